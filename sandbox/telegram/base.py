"""Shared core of the emulator's control API: components, lookups, flood/fault knobs."""

from __future__ import annotations

from .delivery import render_message
from .errors import ControlError
from .humans import human_chat
from .limits import Fault, FaultInjector, Limit, RateLimiter
from .server import BotApiServer
from .state import (
    BotRecord,
    ChatRecord,
    Json,
    MessageRecord,
    Options,
    State,
    TopicRecord,
    UserRecord,
)

UserRef = UserRecord | int
BotRef = BotRecord | int | None


class EmulatorBase:
    """Components every part of the control API needs; see ``TelegramEmulator``."""

    def __init__(
        self,
        *,
        strict_html_ampersand: bool = True,
        closed_topic_admin_bypass: bool = False,
        topic_root_reply: bool = True,
    ) -> None:
        self.state = State(
            Options(
                strict_html_ampersand=strict_html_ampersand,
                closed_topic_admin_bypass=closed_topic_admin_bypass,
                topic_root_reply=topic_root_reply,
            )
        )
        self.limiter = RateLimiter()
        self.faults = FaultInjector()
        self.server = BotApiServer(self.state, self.limiter, self.faults)
        self.base_url = ""

    @property
    def options(self) -> Options:
        """Behaviour switches, changeable at any time (e.g. ``closed_topic_admin_bypass``)."""
        return self.state.options

    # ---- flood control and faults ------------------------------------------------------
    def set_rate_limits(
        self,
        enabled: bool = True,
        private: Limit | None = None,
        group: Limit | None = None,
        bot: Limit | None = None,
        *,
        grace: float | None = None,
    ) -> None:
        """Limits are (count, window_seconds) sliding windows; unspecified ones keep their
        values (defaults: private 1/1s, group 20/60s, bot 30/1s)."""
        self.limiter.configure(enabled=enabled, private=private, group=group, bot=bot, grace=grace)

    def inject_fault(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | None = None,
        chance: float = 1.0,
    ) -> None:
        """The next ``times`` matching calls (None: until reset) answer this error.
        method "*" matches every method. ``chance`` < 1: only that share of the matching
        calls, drawn at random (the emulator's seeded ``faults.rng``)."""
        self.faults.add(
            Fault(
                "error",
                method.lower(),
                times,
                chat_id=chat_id,
                error_code=error_code,
                description=description,
                retry_after=retry_after,
                chance=chance,
            )
        )

    def inject_delay(
        self, method: str, seconds: float, times: int | None = 1, *, chat_id: int | None = None,
        chance: float = 1.0,
    ) -> None:
        self.faults.add(Fault("delay", method.lower(), times, chat_id=chat_id, seconds=seconds,
                              chance=chance))

    def drop_connection(
        self,
        method: str,
        times: int | None = 1,
        *,
        after: bool = False,
        chat_id: int | None = None,
        chance: float = 1.0,
    ) -> None:
        """Cut the connection instead of answering. after=True performs the call first (the
        message IS sent, the client just never hears back) -- the duplicate-send trap.
        ``chance`` as for inject_fault."""
        self.faults.add(
            Fault("drop", method.lower(), times, chat_id=chat_id, after=after, chance=chance)
        )

    def reset_faults(self) -> None:
        self.faults.reset()

    # ---- lookups ------------------------------------------------------------------------
    def _user(self, user: UserRef | BotRecord) -> UserRecord:
        user_id = user if isinstance(user, int) else user.id
        if user_id not in self.state.users:
            raise ControlError(f"unknown user {user_id}")
        return self.state.users[user_id]

    def _bot(self, bot: BotRecord | int) -> BotRecord:
        bot_id = bot if isinstance(bot, int) else bot.id
        if bot_id not in self.state.bots:
            raise ControlError(f"unknown bot {bot_id}")
        return self.state.bots[bot_id]

    def _bot_for(self, bot: BotRef) -> BotRecord:
        """The bot of a private chat: the given one, or the only one registered."""
        if bot is not None:
            return self._bot(bot)
        if len(self.state.bots) != 1:
            raise ControlError(f"{len(self.state.bots)} bots registered: pass bot=")
        return next(iter(self.state.bots.values()))

    def _person_chat(self, person: UserRecord, chat_id: int, bot: BotRef) -> ChatRecord:
        private_bot = self._bot_for(bot) if chat_id > 0 else None
        return human_chat(self.state, person, chat_id, private_bot)

    def _group(self, chat_id: int) -> ChatRecord:
        chat = self.state.groups.get(chat_id)
        if chat is None:
            raise ControlError(f"no group {chat_id}")
        return chat

    def _forum(self, chat_id: int) -> ChatRecord:
        chat = self._group(chat_id)
        if not chat.is_forum:
            raise ControlError(f"group {chat_id} is not a forum")
        return chat

    def _topic(self, chat: ChatRecord, thread_id: int) -> TopicRecord:
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise ControlError(f"no live topic {thread_id} in {chat.id}")
        return topic

    def _chat(self, chat_id: int, bot: BotRef) -> ChatRecord:
        if chat_id < 0:
            return self._group(chat_id)
        return self.state.private_chat(self._bot_for(bot).id, chat_id)

    def _viewer(self, chat: ChatRecord) -> int:
        if chat.bot_id is not None:
            return chat.bot_id
        for member in chat.members.values():
            if member.user_id in self.state.bots:
                return member.user_id
        return 0

    def _render(self, msg: MessageRecord) -> Json:
        return render_message(self.state, msg, self._viewer(msg.chat))

    def _sender_matches(self, msg: MessageRecord, from_bot: bool | BotRecord | int | None) -> bool:
        if from_bot is None:
            return True
        is_bot = msg.sender_id in self.state.bots
        if isinstance(from_bot, bool):
            return is_bot == from_bot
        return msg.sender_id == (from_bot if isinstance(from_bot, int) else from_bot.id)

    def group_owner(self, chat_id: int) -> UserRecord:
        chat = self._group(chat_id)
        owner = next(m for m in chat.members.values() if m.status == "creator")
        return self.state.users[owner.user_id]

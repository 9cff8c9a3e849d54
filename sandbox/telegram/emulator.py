"""``TelegramEmulator``: the server plus the Python control API tests drive it with."""

from __future__ import annotations

import re
from collections.abc import Iterable

from aiohttp import web

from ..common.lifecycle import ServedApp
from .base import UserRef
from .control import ControlApi
from .delivery import new_message
from .inspection import InspectionApi
from .people_api import PeopleApi
from .server import MAX_BODY
from .state import BotRecord, ChatRecord, MemberRecord, UserRecord
from .webhooks import WebhookPusher

_TOKEN_RE = re.compile(r"^(\d+):[\w-]+$")


class TelegramEmulator(PeopleApi, InspectionApi, ServedApp):
    """A local Telegram Bot API. See ``sandbox/telegram/__init__.py`` for the tour."""

    client_max_size = MAX_BODY

    def __init__(
        self,
        *,
        strict_html_ampersand: bool = True,
        closed_topic_admin_bypass: bool = False,
        topic_root_reply: bool = True,
    ) -> None:
        super().__init__(
            strict_html_ampersand=strict_html_ampersand,
            closed_topic_admin_bypass=closed_topic_admin_bypass,
            topic_root_reply=topic_root_reply,
        )
        self.control = ControlApi(self)
        self.webhooks = WebhookPusher(self.state)

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        url = await super().start(host, port)
        self.webhooks.start()
        return url

    async def stop(self) -> None:
        await self.webhooks.stop()
        await super().stop()

    def _routes(self) -> list[list[web.RouteDef]]:
        return [self.control.routes(), self.server.routes()]

    # ---- world setup --------------------------------------------------------------------
    def add_bot(
        self,
        token: str,
        username: str | None = None,
        first_name: str | None = None,
        *,
        bot_to_bot: bool = False,
        privacy_mode: bool = True,
    ) -> BotRecord:
        match = _TOKEN_RE.match(token)
        if match is None:
            raise ValueError(f"bot token must look like '123456:secret', got {token!r}")
        bot_id = int(match.group(1))
        if bot_id in self.state.users:
            raise ValueError(f"id {bot_id} is already taken")
        username = username or f"bot{bot_id}_bot"
        bot = BotRecord(
            id=bot_id,
            first_name=first_name or username,
            username=username,
            is_bot=True,
            token=token,
            bot_to_bot=bot_to_bot,
            privacy_mode=privacy_mode,
        )
        self.state.users[bot_id] = bot
        self.state.bots[bot_id] = bot
        self.state.bots_by_token[token] = bot
        return bot

    def add_user(
        self,
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        *,
        is_premium: bool = False,
        hide_forwards: bool = False,
        is_bot: bool = False,
        user_id: int | None = None,
    ) -> UserRecord:
        """A person (or, with is_bot=True, a foreign bot nobody polls for, to be moved by
        the control API like a person)."""
        user_id = user_id or self.state.next_user_id()
        if user_id in self.state.users or user_id <= 0:
            raise ValueError(f"bad or duplicate user id {user_id}")
        user = UserRecord(
            id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
            hide_forwards=hide_forwards,
            is_bot=is_bot,
        )
        self.state.users[user_id] = user
        return user

    def create_supergroup(
        self,
        title: str = "Support",
        forum: bool = True,
        bot_admin: bool = True,
        can_manage_topics: bool = True,
        *,
        bots: Iterable[BotRecord | int] | None = None,
        username: str | None = None,
    ) -> int:
        """A supergroup with an owner (a human, creator) and the bots (default: all so far)."""
        chat = ChatRecord(
            id=self.state.next_group_id(),
            type="supergroup",
            title=title,
            username=username,
            is_forum=forum,
        )
        owner = self.add_user(first_name="Owner", last_name=title)
        chat.members[owner.id] = MemberRecord(owner.id, "creator", can_manage_topics=True)
        # Message 1 of a real supergroup is its creation service message, so no topic ever
        # gets thread id 1 -- that id means the General topic.
        created = new_message(chat, owner.id, {"supergroup_chat_created": True}, service=True)
        chat.messages[created.message_id] = created
        chosen = self.state.bots.values() if bots is None else [self._bot(b) for b in bots]
        for bot in chosen:
            status = "administrator" if bot_admin else "member"
            chat.members[bot.id] = MemberRecord(
                bot.id, status, can_manage_topics=bot_admin and can_manage_topics
            )
        self.state.groups[chat.id] = chat
        return chat.id

    def add_member(
        self,
        chat_id: int,
        user: UserRef | BotRecord,
        *,
        admin: bool = False,
        can_manage_topics: bool = False,
    ) -> None:
        """Add a person (or bot) to a group, or change their status there."""
        status = "administrator" if admin else "member"
        self.set_member_status(chat_id, user, status, can_manage_topics=can_manage_topics)

    def set_member_status(
        self,
        chat_id: int,
        user: UserRef | BotRecord,
        status: str,
        *,
        can_manage_topics: bool = False,
    ) -> None:
        """status: creator | administrator | member | left | kicked."""
        if status not in ("creator", "administrator", "member", "left", "kicked"):
            raise ValueError(f"unknown member status {status!r}")
        chat = self._group(chat_id)
        user_id = self._user(user).id
        chat.members[user_id] = MemberRecord(user_id, status, can_manage_topics)
        self.state.notifier.notify()

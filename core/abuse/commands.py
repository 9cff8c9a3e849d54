"""`/ban [duration] [reason]` and `/unban` in a topic, for `operators.admins` (others are
told they may not). /ban closes the conversation (no survey) and keeps the customer's later
messages off the desk; a duration (`30m`, `12h`, `7d`, `2w`, `1d12h`) ends it by itself."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from core.abuse.ports import AbuseStore, Ban, Close
from core.commands import Command, Commands, Invocation
from core.delivery.queue import Queue
from core.lifecycle import CloseReason, Closure
from core.model import Conversation, ConversationStatus
from core.ports import Store
from core.unit import Transactions, Unit

_PART = re.compile(r"(\d+)([mhdw])")
_DURATION = re.compile(r"^(?:\d+[mhdw])+$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
          "w": timedelta(weeks=1)}
REASON_LIMIT = 200
_Work = Callable[[Unit, Conversation], Awaitable[None]]


def parse_ban_args(args: str) -> tuple[timedelta | None, str | None]:
    """`2h spam links` → (2 hours, "spam links"); a first word that is no duration is
    part of the reason (the ban is then until /unban)."""
    first, _, rest = args.strip().partition(" ")
    if _DURATION.match(first.lower()):
        duration = sum((int(n) * _UNITS[u] for n, u in _PART.findall(first.lower())),
                       timedelta())
        return (duration or None), (rest.strip()[:REASON_LIMIT] or None)
    return None, (args.strip()[:REASON_LIMIT] or None)


class BanCommands:
    def __init__(self, store: AbuseStore, shared: Store, queue: Queue,
                 transactions: Transactions, close: Close, commands: Commands) -> None:
        self._store = store
        self._shared = shared
        self._queue = queue
        self._transactions = transactions
        self._close = close
        self._commands = commands

    async def ban(self, i: Invocation) -> None:
        duration, reason = parse_ban_args(i.args)

        async def work(unit: Unit, conversation: Conversation) -> None:
            until = unit.now + duration if duration else None
            await self._store.add_ban(Ban(conversation.customer_id, i.operator_id,
                                          i.operator_name, reason, unit.now, until))
            notice = _banned_html(i.operator_name, until, reason)
            if until is not None:  # the card shows the ban's end when it comes
                await self._queue.edit_card(unit, conversation.id, at=until)
            if conversation.status is ConversationStatus.CLOSED:
                await self._queue.notice_in_closed_topic(unit, conversation.id, notice,
                                                         edit_card=True)
            else:
                await self._queue.edit_card(unit, conversation.id)  # while the topic is open
                await self._close(unit, conversation, Closure(
                    i.operator_id, i.operator_name, CloseReason.BANNED), notice)

        await self._admin_run(i, "ban", work)

    async def unban(self, i: Invocation) -> None:
        async def work(unit: Unit, conversation: Conversation) -> None:
            lifted = await self._store.lift_ban(conversation.customer_id, unit.now)
            notice = (f"✅ Ban lifted by {html.escape(i.operator_name)}: the customer's next "
                      "message starts a conversation." if lifted else
                      "ℹ️ This customer is not banned.")
            current = await self._shared.open_conversation(conversation.customer_id)
            last = await self._shared.last_topic(conversation.customer_id)
            if lifted and last is not None and last.topic_id != conversation.topic_id:
                await self._queue.edit_card(unit, last.id)  # lifted from another topic
            if conversation.status is ConversationStatus.CLOSED and current is None:
                await self._queue.notice_in_closed_topic(unit, conversation.id, notice,
                                                         edit_card=lifted)
            else:
                if lifted:
                    await self._queue.edit_card(unit, conversation.id)
                await self._queue.notice(unit, conversation.id, notice)

        await self._admin_run(i, "unban", work)

    async def _admin_run(self, i: Invocation, name: str, work: _Work) -> None:
        """Run `work` on the topic's conversation; a non-admin is told they may not."""
        assert i.topic_id is not None
        topic_id, admin = i.topic_id, self._commands.is_admin(i.operator_id)
        desk_chat = i.desk_chat  # a topic id is only unique within its group (departments)

        async def unit_work(unit: Unit) -> None:
            conversation = await self._shared.conversation_by_topic(topic_id, desk_chat)
            if conversation is None:
                return
            if not admin:
                await self._queue.notice(unit, conversation.id, (
                    f"⛔ {html.escape(i.operator_name)}, only admins (operators.admins) may "
                    f"/{name}."))
                return
            await work(unit, conversation)

        await self._transactions.run(unit_work)


def _banned_html(by: str, until: datetime | None, reason: str | None) -> str:
    how_long = f"until {until:%Y-%m-%d %H:%M} UTC" if until else "until /unban"
    why = f" — {html.escape(reason)}" if reason else ""
    return (f"🚫 <b>Banned</b> by {html.escape(by)} {how_long}{why}. Their messages are kept "
            "but not relayed, and nothing is sent to them; /unban lifts it.")


def register(commands: Commands, bans: BanCommands) -> None:
    # Role.OPERATOR on purpose: the handler tells a non-admin they may not (the registry
    # would refuse silently).
    commands.register(Command("ban", "/ban [2h|7d] [reason]: keep a customer off the desk",
                              bans.ban))
    commands.register(Command("unban", "/unban lifts a ban", bans.unban))

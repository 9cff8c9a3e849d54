"""Bans on the conversation lifecycle. A banned customer's later messages are stored in
their last conversation (closed by /ban) but never relayed: no topic, no acknowledgement,
no bot answer, no survey, nothing sent to them. The ban covers every identity linked to
the customer (they share the customer; a /link made later carries the ban over) and ends
by itself when it has a duration."""

from __future__ import annotations

import html
from datetime import datetime

from core.abuse.ports import AbuseStore, EventKind
from core.delivery.queue import Queue
from core.lifecycle import LifecycleListener
from core.model import Content, Conversation, ConversationStatus, Customer, Identity
from core.ports import Store
from core.unit import Unit


class Bans(LifecycleListener):
    absorbs_messages = True

    def __init__(self, store: AbuseStore, shared: Store, queue: Queue) -> None:
        self._store = store
        self._shared = shared
        self._queue = queue

    async def absorbs(self, unit: Unit, customer: Customer, identity: Identity,
                      content: Content) -> Conversation | None:
        if await self._store.ban_of(customer.id, unit.now) is None:
            return None
        conversation = await self._shared.last_topic(customer.id)
        if conversation is None:  # banned before any topic: nowhere to keep it
            return None
        await self._store.add_event(customer.id, conversation.id, unit.now,
                                    EventKind.SUPPRESSED)
        return conversation

    async def linked(self, unit: Unit, conversation: Conversation, merged_customer_id: int
                     ) -> None:
        """The merged customer's ban is the person's: it now covers the one they joined.
        The conversation that goes on stays open (a ban keeps messages off the desk from
        the next conversation on): operators are told, and /close ends it without a survey."""
        # Read again: the link has moved the conversation to the customer that goes on.
        survivor = (await self._shared.get_conversation(conversation.id)).customer_id
        if survivor == merged_customer_id:
            return
        await self._store.move_bans(merged_customer_id, survivor)
        ban = await self._store.ban_of(survivor, unit.now)
        if ban is not None and conversation.status is not ConversationStatus.CLOSED:
            await self._queue.edit_card(unit, conversation.id)  # the card shows the ban
            await self._queue.notice(unit, conversation.id, (
                f"🚫 This customer is banned (by {html.escape(ban.by_name)}): this "
                "conversation stays open until /close, their next ones are kept off the "
                "desk; /unban lifts it."))

    async def card_lines(self, conversation: Conversation, now: datetime) -> list[str]:
        """The customer card shows a ban in force (core.delivery.topics.CardLines)."""
        ban = await self._store.ban_of(conversation.customer_id, now)
        if ban is None:
            return []
        until = f"until {ban.until:%Y-%m-%d %H:%M} UTC" if ban.until else "until /unban"
        return [f"🚫 Banned {until} by {ban.by_name}" + (f" — {ban.reason}" if ban.reason
                                                          else "")]

    async def silenced(self, customer_id: int, now: datetime) -> bool:
        """Nothing may be sent to a banned customer (the survey asks this)."""
        return await self._store.ban_of(customer_id, now) is not None

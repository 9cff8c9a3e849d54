"""Bans on the conversation lifecycle. A banned customer's later messages are stored in
their last conversation (closed by /ban) but never relayed: no topic, no acknowledgement,
no bot answer, no survey, nothing sent to them. The ban covers every identity linked to
the customer (they share the customer; a /link made later carries the ban over) and ends
by itself when it has a duration."""

from __future__ import annotations

from datetime import datetime

from core.abuse.ports import AbuseStore, EventKind
from core.lifecycle import LifecycleListener
from core.model import Content, Conversation, Customer, Identity
from core.ports import Store
from core.unit import Unit


class Bans(LifecycleListener):
    absorbs_messages = True

    def __init__(self, store: AbuseStore, shared: Store) -> None:
        self._store = store
        self._shared = shared

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
        await self._store.move_bans(merged_customer_id, conversation.customer_id)

    async def silenced(self, customer_id: int, now: datetime) -> bool:
        """Nothing may be sent to a banned customer (the survey asks this)."""
        return await self._store.ban_of(customer_id, now) is not None

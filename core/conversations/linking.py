"""Linking: one person on two channels becomes one customer (the operator's `/link`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from core import texts
from core.clock import Clock
from core.model import ConversationStatus
from core.ports import StorePort

T = TypeVar("T")


class Linking:
    """Part of `IntakeService`: what an operator links, in one transaction like any intake."""

    _store: StorePort
    _clock: Clock

    if TYPE_CHECKING:
        async def _atomic(self, work: Callable[[], Awaitable[T]], attempts: int = 5) -> T: ...
        async def _system_notice(self, conversation_id: int, html: str) -> None: ...

    async def link_customers(
        self, topic_id: int, other_customer_id: int, operator_name: str
    ) -> bool:
        """An operator links the customer of a topic with customer `other_customer_id`
        (the same person on another channel): from now on they are one customer and this
        topic's conversation is theirs; an open conversation of the other is closed with a
        pointer here. Never guessed: only this explicit command links identities."""

        async def work() -> bool:
            store, now = self._store, self._clock.now()
            here = await store.conversation_by_topic(topic_id)
            if here is None:
                return False
            fail = None
            try:
                other = await store.get_customer(other_customer_id)
            except LookupError:
                other = None
            if other is None:
                fail = f"there is no customer #{other_customer_id}"
            elif other.id == here.customer_id:
                fail = f"customer #{other.id} is already this customer"
            if fail is not None or other is None:
                await self._system_notice(here.id, texts.render("link_failed", reason=fail))
                return False
            # The other customer's open conversation ends; this one continues for both.
            theirs = await store.open_conversation(other.id)
            if theirs is not None and here.status is not ConversationStatus.CLOSED:
                await store.update_conversation(
                    theirs.id, status=ConversationStatus.CLOSED, closed_at=now,
                    waiting_since=None,
                )
                await self._system_notice(theirs.id, texts.render(
                    "linked_away", operator=operator_name, customer_id=other.id,
                    conversation_id=here.id))
            await store.move_customer(here.customer_id, other.id)
            identities = await store.identities_of(other.id)
            # Said where the conversation goes on: here, unless this one was already closed
            # and the other customer's is open.
            continuing = theirs if theirs is not None and here.status is \
                ConversationStatus.CLOSED else here
            await self._system_notice(continuing.id, texts.render(
                "linked", operator=operator_name, other=here.customer_id, customer_id=other.id,
                identities=", ".join(f"{texts.channel_label(i.channel)} {i.user_id}"
                                     for i in identities)))
            return True

        return await self._atomic(work)

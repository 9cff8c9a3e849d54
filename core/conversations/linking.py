"""Linking: one person on two channels becomes one customer (the operator's `/link`)."""

from __future__ import annotations

from core import texts
from core.conversations.service import Conversations
from core.delivery.queue import Queue
from core.lifecycle import CloseReason, Closure, Lifecycle
from core.model import Conversation, ConversationStatus, Customer
from core.ports import Store
from core.unit import Transactions, Unit


class Linking:
    def __init__(self, store: Store, transactions: Transactions, queue: Queue,
                 conversations: Conversations, lifecycle: Lifecycle) -> None:
        self._store = store
        self._transactions = transactions
        self._queue = queue
        self._conversations = conversations
        self._lifecycle = lifecycle

    async def link_customers(self, topic_id: int, other_customer_id: int, operator_id: str,
                             operator_name: str, *, desk_chat: str | None = None) -> bool:
        """An operator links the customer of a topic with customer `other_customer_id`
        (the same person on another channel): from now on they are one customer and this
        topic's conversation is theirs; an open conversation of the other is closed with a
        pointer here. Never guessed: only this explicit command links identities."""

        async def work(unit: Unit) -> bool:
            here = await self._store.conversation_by_topic(topic_id, desk_chat)
            if here is None:
                return False
            other = await self._other(unit, here, other_customer_id)
            if other is None:
                return False
            # The other customer's open conversation ends; this one continues for both.
            theirs = await self._store.open_conversation(other.id)
            if theirs is not None and here.status is not ConversationStatus.CLOSED:
                await self._conversations.close(
                    unit, theirs, Closure(operator_id, operator_name, CloseReason.LINKED),
                    texts.render("linked_away", operator=operator_name, customer_id=other.id,
                                 conversation_id=here.id))
            await self._store.move_customer(here.customer_id, other.id)
            # Said where the conversation goes on: here, unless this one was already closed
            # and the other customer's is open.
            continuing = theirs if theirs is not None and here.status is \
                ConversationStatus.CLOSED else here
            await self._lifecycle.linked(unit, continuing, here.customer_id)
            identities = await self._store.identities_of(other.id)
            await self._queue.notice(unit, continuing.id, texts.render(
                "linked", operator=operator_name, other=here.customer_id, customer_id=other.id,
                identities=", ".join(f"{texts.channel_label(i.channel)} {i.user_id}"
                                     for i in identities)))
            return True

        return await self._transactions.run(work)

    async def _other(self, unit: Unit, here: Conversation, other_id: int) -> Customer | None:
        """The customer to link with, or None (told in the topic)."""
        try:
            other: Customer | None = await self._store.get_customer(other_id)
        except LookupError:
            other = None
        if other is None:
            reason = f"there is no customer #{other_id}"
        elif other.id == here.customer_id:
            reason = f"customer #{other.id} is already this customer"
        else:
            return other
        await self._queue.notice(unit, here.id, texts.render("link_failed", reason=reason))
        return None

"""Customer → desk: a customer's message becomes a stored message and its relay to the topic.

Customer, identity and conversation are resolved in the same unit as the message is stored
and queued; a conversation that starts, and a wait that starts, are told to the lifecycle.
"""

from __future__ import annotations

from typing import Protocol

from core import texts
from core.delivery.queue import Queue
from core.intake.fast import run_fast
from core.intake.ports import FastIntake
from core.intake.relays import Relays, group_key
from core.lifecycle import Lifecycle
from core.model import (
    DESK,
    Conversation,
    Customer,
    Identity,
    InboundCustomerMessage,
    IntakeResult,
    MessageKind,
    Outcome,
    SourceRef,
    desk_lane,
)
from core.ports import Store
from core.unit import Transactions, Unit


class CustomerIntakeStore(Store, FastIntake, Protocol):
    pass


class CustomerIntake:
    def __init__(self, store: CustomerIntakeStore, transactions: Transactions,
                 relays: Relays, queue: Queue, lifecycle: Lifecycle) -> None:
        self._store = store
        self._transactions = transactions
        self._relays = relays
        self._queue = queue
        self._lifecycle = lifecycle

    async def relay_customer_to_desk(self, inbound: InboundCustomerMessage) -> IntakeResult:
        if self._store.fast_intake and not self._lifecycle.every_message:
            desk_chat = self._queue.desk_chat
            done = await run_fast(self._transactions, lambda now, lease:
                                  self._store.fast_customer_message(inbound, now, desk_chat,
                                                                    lease))
            if done is not None:
                return done
        return await self._transactions.run(lambda unit: self._store_message(unit, inbound))

    async def _store_message(self, unit: Unit, inbound: InboundCustomerMessage
                             ) -> IntakeResult:
        store = self._store
        if unit.retrying and await store.find_link(inbound.channel, inbound.chat_id,
                                                   inbound.message_id):
            return IntakeResult(Outcome.DUPLICATE)
        identity, customer, new = await store.upsert_identity(
            inbound.channel, inbound.user_id, inbound.chat_id, inbound.profile, unit.now
        )
        if not identity.reachable:
            # Writing to us means they can hear us again (Telegram unblock, VK allow).
            await store.set_reachable(identity.id, True)
        # A customer created just now has no conversation yet: nothing to look up.
        conversation = None if new else await store.open_conversation(customer.id)
        created = conversation is None
        if conversation is None:
            conversation = await self._start(unit, customer, inbound.channel, identity,
                                             first=new)
        change = unit.change(conversation.id)
        if conversation.reply_identity_id != identity.id:
            change.reply_through(identity.id)
        if conversation.waiting_since is None:
            change.waits_since(unit.now)
            await self._lifecycle.customer_waits(unit, conversation, customer, identity,
                                                 created=created)
        reply_to_id = await self._relays.replied(inbound.channel, inbound.chat_id,
                                                 inbound.reply_to_message_id)
        message = await store.add_message(
            conversation.id, MessageKind.CUSTOMER, inbound.user_id, inbound.profile.display_name,
            inbound.content, SourceRef(inbound.channel, inbound.chat_id, inbound.message_id),
            reply_to_id, unit.now, reply_ref=None if reply_to_id else inbound.reply_to_message_id,
        )
        unit.stored.append(message)
        await self._lifecycle.customer_wrote(unit, conversation, message)
        # A conversation started in this unit has an empty lane, unless it reopens the
        # customer's topic (those rows come first): nobody else knows its id yet.
        await self._relays.queue(
            unit, lane=desk_lane(conversation.id), target=DESK,
            chat_id=self._queue.desk_chat, message=message,
            group=group_key(inbound.channel, inbound.chat_id, inbound.content),
            conversation=conversation, lane_empty=created and conversation.topic_id is None,
        )
        return IntakeResult(Outcome.STORED, message.id, conversation.id)

    async def _start(self, unit: Unit, customer: Customer, channel: str, identity: Identity,
                     *, first: bool) -> Conversation:
        """A new conversation reuses the customer's topic, so their history stays in one
        place. `first`: the customer was created in this unit (no earlier conversation)."""
        store = self._store
        previous = None if first else await store.latest_conversation(customer.id)
        topic_id = previous.topic_id if previous else None
        conversation = await store.create_conversation(
            customer.id, channel, identity.id, topic_id, unit.now
        )
        if previous is not None and topic_id is not None:
            # The previous conversation's /close closed the topic.
            await self._queue.reopen_topic(unit, conversation.id)
            await self._queue.notice(unit, conversation.id, texts.render(
                "new_conversation", conversation_id=conversation.id,
                name=customer.display_name, previous=previous.id))
        await self._lifecycle.started(unit, conversation)
        return conversation

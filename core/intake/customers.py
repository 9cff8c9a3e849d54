"""Customer → desk: a customer's message becomes a stored message and its relay to the topic.

Customer, identity and conversation are resolved in the same unit as the message is stored
and queued; a conversation that starts, and a wait that starts, are told to the lifecycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core import texts
from core.delivery.queue import Queue
from core.intake.fast import run_fast
from core.intake.held import HeldRun, current_run
from core.intake.ports import FastIntake, HeldMessageStore, NewMessage
from core.intake.relays import Relays, group_key
from core.lifecycle import Lifecycle
from core.model import (
    DESK,
    Conversation,
    ConversationStatus,
    Customer,
    Identity,
    InboundCustomerMessage,
    IntakeResult,
    Message,
    MessageKind,
    Outcome,
    SourceRef,
    desk_lane,
)
from core.ports import Store
from core.unit import Transactions, Unit


class CustomerIntakeStore(Store, FastIntake, HeldMessageStore, Protocol):
    pass


def _same_sender(a: InboundCustomerMessage, b: InboundCustomerMessage) -> bool:
    """The general path would find b's identity, customer and conversation as a's left
    them (nothing to update: same identity, same profile)."""
    return (a.channel, a.user_id, a.chat_id, a.profile) == (b.channel, b.user_id, b.chat_id,
                                                              b.profile)


class CustomerIntake:
    def __init__(self, store: CustomerIntakeStore, transactions: Transactions,
                 relays: Relays, queue: Queue, lifecycle: Lifecycle) -> None:
        self._store = store
        self._transactions = transactions
        self._relays = relays
        self._queue = queue
        self._lifecycle = lifecycle

    async def relay_customer_to_desk(self, inbound: InboundCustomerMessage) -> IntakeResult:
        # A sender over a flood limit: stored and handed to the lifecycle, not relayed;
        # inside a poller's run, stored with the run's other held messages (held.py).
        held = self._lifecycle.watches_senders and self._lifecycle.over_limit(
            inbound.channel, inbound.user_id, self._transactions.now())
        run = current_run()
        if held and run is not None:
            run.keep(inbound)
            return IntakeResult(Outcome.PENDING)
        if run is not None:
            await run.settle()  # the chat's earlier messages first
        if held:
            return await self._store_one_held(inbound)
        if self._store.fast_intake and not self._lifecycle.every_message:
            desk_chat = self._queue.desk_chat
            done = await run_fast(self._transactions, lambda now, lease:
                                  self._store.fast_customer_message(inbound, now, desk_chat,
                                                                    lease))
            if done is not None:
                return done
        return await self._transactions.run(lambda unit: self._store_message(unit, inbound))

    def held_run(self) -> HeldRun:
        """A run for one chat's updates of a poller's batch (see held.py)."""
        return HeldRun(self._store_all_held, self._store_one_held)

    async def _store_one_held(self, inbound: InboundCustomerMessage) -> IntakeResult:
        return await self._transactions.run(
            lambda unit: self._store_message(unit, inbound, held=True))

    async def _store_all_held(self, inbounds: Sequence[InboundCustomerMessage]) -> None:
        await self._transactions.run(lambda unit: self._hold_all(unit, inbounds))

    async def _hold_all(self, unit: Unit, inbounds: Sequence[InboundCustomerMessage]) -> None:
        """Held messages in one unit. The first of a sender takes the general path; while
        it leaves the sender's conversation open for the desk, the next ones of the same
        sender and profile (what the general path would find again) are only added to it:
        one statement for their messages and links, one for their events."""
        if unit.retrying:  # some were stored before (a re-delivered batch)
            inbounds = [i for i in inbounds if not await self._store.find_link(
                i.channel, i.chat_id, i.message_id)]
        lead: tuple[InboundCustomerMessage, Conversation] | None = None
        batch: list[NewMessage] = []
        for inbound in inbounds:
            if lead is not None and _same_sender(lead[0], inbound):
                if inbound.reply_to_message_id is not None:  # it may reply to the batch
                    await self._hold_batch(unit, lead[1], batch)
                    batch = []
                batch.append(await self._new_message(inbound))
                continue
            if lead is not None:
                await self._hold_batch(unit, lead[1], batch)
                batch = []
            _, conversation = await self._take_in(unit, inbound, held=True)
            lead = (inbound, conversation) if conversation is not None else None
        if lead is not None:
            await self._hold_batch(unit, lead[1], batch)

    async def _new_message(self, inbound: InboundCustomerMessage) -> NewMessage:
        reply_to_id = await self._relays.replied(inbound.channel, inbound.chat_id,
                                                 inbound.reply_to_message_id)
        return NewMessage(inbound.user_id, inbound.profile.display_name, inbound.content,
                          SourceRef(inbound.channel, inbound.chat_id, inbound.message_id),
                          reply_to_id,
                          None if reply_to_id else inbound.reply_to_message_id)

    async def _hold_batch(self, unit: Unit, conversation: Conversation,
                          batch: Sequence[NewMessage]) -> None:
        if not batch:
            return
        if conversation.id in unit.changes:
            conversation = unit.changes[conversation.id].applied_to(conversation)
        messages = await self._store.add_customer_messages(conversation.id, batch, unit.now)
        if self._lifecycle.every_message:
            for message in messages:
                await self._lifecycle.customer_wrote(unit, conversation, message)
        await self._lifecycle.held(unit, conversation, messages)

    async def _store_message(self, unit: Unit, inbound: InboundCustomerMessage, *,
                             held: bool = False) -> IntakeResult:
        return (await self._take_in(unit, inbound, held=held))[0]

    async def _take_in(self, unit: Unit, inbound: InboundCustomerMessage, *, held: bool
                       ) -> tuple[IntakeResult, Conversation | None]:
        """The general path; with the result, the conversation the message went to when it
        is open for the desk (relayed or held there), as the unit leaves it."""
        store = self._store
        if unit.retrying and await store.find_link(inbound.channel, inbound.chat_id,
                                                   inbound.message_id):
            return IntakeResult(Outcome.DUPLICATE), None
        identity, customer, new = await store.upsert_identity(
            inbound.channel, inbound.user_id, inbound.chat_id, inbound.profile, unit.now
        )
        if not identity.reachable:
            # Writing to us means they can hear us again (Telegram unblock, VK allow).
            await store.set_reachable(identity.id, True)
        # A customer created just now has no conversation yet: nothing to look up.
        conversation = None if new else await store.open_conversation(customer.id)
        if conversation is None and not new and self._lifecycle.absorbs_messages:
            kept = await self._lifecycle.absorbs(unit, customer, identity, inbound.content)
            if kept is not None:  # stored in a closed conversation, not relayed
                message = await self._add(unit, inbound, kept)
                return IntakeResult(Outcome.STORED, message.id, kept.id), None
        created = conversation is None
        if conversation is None:
            bot = self._lifecycle.takes_conversations and await self._lifecycle.claims(
                unit, customer, identity, inbound.content)
            conversation = await self._start(unit, customer, inbound.channel, identity,
                                             first=new, bot=bot)
        if conversation.reply_identity_id != identity.id:
            unit.change(conversation.id).reply_through(identity.id)
        if conversation.status is ConversationStatus.BOT and not created:
            # A hand-over (a press) may have committed since it was read: take turns.
            conversation = await store.lock_conversation(conversation.id)
        if conversation.status is ConversationStatus.BOT:
            return await self._to_bot(unit, inbound, conversation, customer, identity), None
        if conversation.waiting_since is None:
            unit.change(conversation.id).waits_since(unit.now)
            await self._lifecycle.customer_waits(unit, conversation, customer, identity,
                                                 created=created)
        message = await self._add(unit, inbound, conversation)
        result = IntakeResult(Outcome.STORED, message.id, conversation.id)
        if held and not created:
            await self._lifecycle.held(unit, conversation, [message])
            return result, conversation
        # A conversation started in this unit has an empty lane, unless it reopens the
        # customer's topic (those rows come first): nobody else knows its id yet.
        await self._relay(unit, inbound, message, conversation,
                          lane_empty=created and conversation.topic_id is None)
        return result, conversation

    async def _to_bot(self, unit: Unit, inbound: InboundCustomerMessage,
                      conversation: Conversation, customer: Customer, identity: Identity
                      ) -> IntakeResult:
        """A message of a conversation the bot holds goes to the bot; when the bot hands
        the conversation over, it is the first message the desk sees, after the context."""
        message = await self._add(unit, inbound, conversation)
        turn = await self._lifecycle.bot_message(unit, conversation, customer, identity,
                                                 message)
        if turn.hand_over:
            opened = await self.hand_over(unit, conversation, turn.context_html,
                                          customer=customer, identity=identity)
            await self._relay(unit, inbound, message, opened, lane_empty=False)
        return IntakeResult(Outcome.STORED, message.id, conversation.id)

    async def hand_over(self, unit: Unit, conversation: Conversation, context_html: str, *,
                        customer: Customer | None = None, identity: Identity | None = None,
                        held: Sequence[Message] = ()) -> Conversation:
        """A conversation the bot held opens for people, in `unit`: in the customer's
        earlier topic if they have one in the same department (reopened, with the "new
        conversation" notice), else in a new one (the card goes first); `context_html`
        (what the customer and the bot said) is posted next, then the `held` customer
        messages; then the customer waits (the clock starts, they are told when to expect a
        person), as for a conversation that starts now."""
        store = self._store
        customer = customer or await store.get_customer(conversation.customer_id)
        identity = identity or await store.get_identity(conversation.reply_identity_id)
        change = unit.change(conversation.id)
        await self._lifecycle.placing(unit, change.applied_to(conversation))
        placed = change.applied_to(conversation)
        previous = await store.last_topic(customer.id)
        if previous is not None and (previous.desk_chat, previous.department) != (
                placed.desk_chat, placed.department):
            previous = None  # another department: a topic in its own group
        change.handed_over(unit.now, previous.topic_id if previous else None)
        opened = change.applied_to(conversation)
        if previous is not None:
            await self._reuse_topic(unit, opened, customer, previous)
        if context_html:
            await self._queue.notice(unit, conversation.id, context_html)
        for message in held:
            unit.stored.append(message)
            await self._relays.queue(
                unit, lane=desk_lane(conversation.id), target=DESK,
                chat_id=self._queue.desk_chat, message=message, group=None,
                conversation=opened, lane_empty=False)
        await self._lifecycle.handed_over(unit, opened)
        await self._lifecycle.customer_waits(unit, opened, customer, identity, created=True)
        return opened

    async def _add(self, unit: Unit, inbound: InboundCustomerMessage,
                   conversation: Conversation) -> Message:
        reply_to_id = await self._relays.replied(inbound.channel, inbound.chat_id,
                                                 inbound.reply_to_message_id)
        message = await self._store.add_message(
            conversation.id, MessageKind.CUSTOMER, inbound.user_id, inbound.profile.display_name,
            inbound.content, SourceRef(inbound.channel, inbound.chat_id, inbound.message_id),
            reply_to_id, unit.now, reply_ref=None if reply_to_id else inbound.reply_to_message_id,
        )
        unit.stored.append(message)
        await self._lifecycle.customer_wrote(unit, conversation, message)
        return message

    async def _relay(self, unit: Unit, inbound: InboundCustomerMessage, message: Message,
                     conversation: Conversation, *, lane_empty: bool) -> None:
        await self._relays.queue(
            unit, lane=desk_lane(conversation.id), target=DESK,
            chat_id=self._queue.desk_chat, message=message,
            group=group_key(inbound.channel, inbound.chat_id, inbound.content),
            conversation=conversation, lane_empty=lane_empty,
        )

    async def _start(self, unit: Unit, customer: Customer, channel: str, identity: Identity,
                     *, first: bool, bot: bool) -> Conversation:
        """A new conversation reuses the customer's topic, so their history stays in one
        place. `first`: the customer was created in this unit (no earlier conversation).
        `bot`: a bot takes it; it gets a topic only when it is handed over."""
        store = self._store
        if bot:
            conversation = await store.create_conversation(
                customer.id, channel, identity.id, None, unit.now, ConversationStatus.BOT)
        else:
            previous = None if first else await store.last_topic(customer.id)
            conversation = await store.create_conversation(
                customer.id, channel, identity.id, previous.topic_id if previous else None,
                unit.now)
            change = unit.change(conversation.id)
            if previous is not None:
                # The customer's topic, in its department.
                if previous.department or previous.desk_chat:
                    change.place(previous.department, previous.desk_chat)
                await self._reuse_topic(unit, conversation, customer, previous)
            else:
                await self._lifecycle.placing(unit, conversation)
            conversation = change.applied_to(conversation)
        await self._lifecycle.started(unit, conversation)
        return conversation

    async def _reuse_topic(self, unit: Unit, conversation: Conversation, customer: Customer,
                           previous: Conversation) -> None:
        """The previous conversation's /close closed the topic: reopened, with a notice."""
        await self._queue.reopen_topic(unit, conversation.id)
        await self._queue.notice(unit, conversation.id, texts.render(
            "new_conversation", conversation_id=conversation.id,
            name=customer.display_name, previous=previous.id))

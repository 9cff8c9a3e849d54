"""Desk → customer: an operator's message in a topic becomes a stored message and its relay to
the customer's channel; a note stays in the topic; an answer an operator wrote on the
customer's channel itself goes to the topic only. A person's answer is told to the
lifecycle (it ends the wait and stops the response clock)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core import texts
from core.delivery.queue import Queue
from core.intake.deskref import DeskRef
from core.intake.fast import run_fast
from core.intake.ports import FastIntake
from core.intake.relays import Relays, group_key
from core.lifecycle import Lifecycle
from core.model import (
    DESK,
    Conversation,
    InboundChannelAnswer,
    InboundOperatorMessage,
    IntakeResult,
    MessageKind,
    Outcome,
    SourceRef,
    channel_lane,
    desk_lane,
)
from core.ports import Store
from core.unit import Transactions, Unit


class OperatorIntakeStore(Store, FastIntake, Protocol):
    pass


class OperatorIntake:
    def __init__(self, store: OperatorIntakeStore, transactions: Transactions,
                 relays: Relays, queue: Queue, lifecycle: Lifecycle, desk: DeskRef) -> None:
        self._store = store
        self._desk = desk
        self._transactions = transactions
        self._relays = relays
        self._queue = queue
        self._lifecycle = lifecycle

    async def relay_operator_to_customer(self, inbound: InboundOperatorMessage) -> IntakeResult:
        if self._store.fast_intake and not self._lifecycle.every_message:
            # PostgreSQL's one statement for an answer in a conversation answered before:
            # the wait ended already, nothing to tell listeners. The topic is looked up
            # within its group (a topic id is unique only there).
            scope = self._desk.scope(inbound.chat_id)
            done = await run_fast(self._transactions, lambda now, lease:
                                  self._store.fast_operator_message(inbound, now, True, lease,
                                                                    scope))
            if done is not None:
                return done
        return await self._transactions.run(
            lambda unit: self._store_message(unit, inbound, MessageKind.OPERATOR))

    async def add_note(self, inbound: InboundOperatorMessage) -> IntakeResult:
        """An internal note: stored in the conversation, never sent to the customer."""
        return await self._transactions.run(
            lambda unit: self._store_message(unit, inbound, MessageKind.NOTE))

    async def _store_message(self, unit: Unit, inbound: InboundOperatorMessage,
                             kind: MessageKind) -> IntakeResult:
        store = self._store
        if unit.retrying and await store.find_link(inbound.platform, inbound.chat_id,
                                                   inbound.message_id):
            return IntakeResult(Outcome.DUPLICATE)
        conversation = await store.conversation_by_topic(inbound.thread_id,
                                                         self._desk.scope(inbound.chat_id))
        if conversation is None:
            return IntakeResult(Outcome.IGNORED)
        reply_to_id = await self._relays.replied(inbound.platform, inbound.chat_id,
                                                 inbound.reply_to_message_id)
        message = await store.add_message(
            conversation.id, kind, inbound.operator_id, inbound.operator_name, inbound.content,
            SourceRef(inbound.platform, inbound.chat_id, inbound.message_id), reply_to_id,
            unit.now, reply_ref=None if reply_to_id else inbound.reply_to_message_id,
        )
        if kind is MessageKind.NOTE:
            return IntakeResult(Outcome.STORED, message.id, conversation.id)
        unit.stored.append(message)
        identity = await store.get_identity(conversation.reply_identity_id)
        if not identity.reachable:
            await self._queue.notice(unit, conversation.id,
                                     texts.render("not_delivered_blocked"))
        else:
            await self._relays.queue(
                unit, lane=channel_lane(identity.channel, identity.chat_id),
                target=identity.channel, chat_id=identity.chat_id, message=message,
                group=group_key(inbound.platform, inbound.chat_id, inbound.content),
                identity=identity,
            )
        await self._answered(unit, conversation, inbound.operator_id, assign=True)
        return IntakeResult(Outcome.STORED, message.id, conversation.id)

    async def relay_channel_answer_to_desk(self, inbound: InboundChannelAnswer) -> IntakeResult:
        """An answer an operator wrote on the customer's channel itself: shown in the topic,
        counted as the human answer, never sent to the customer again."""
        return await self._transactions.run(lambda unit: self._channel_answer(unit, inbound))

    async def _channel_answer(self, unit: Unit, inbound: InboundChannelAnswer) -> IntakeResult:
        store = self._store
        if unit.retrying and await store.find_link(inbound.channel, inbound.chat_id,
                                                   inbound.message_id):
            return IntakeResult(Outcome.DUPLICATE)
        identity = await store.find_identity_by_chat(inbound.channel, inbound.chat_id)
        if identity is None:
            return IntakeResult(Outcome.IGNORED)  # not a customer of ours (yet)
        conversation = await store.open_conversation(identity.customer_id)
        if conversation is None:
            return IntakeResult(Outcome.IGNORED)  # an answer after the conversation closed
        reply_to_id = await self._relays.replied(inbound.channel, inbound.chat_id,
                                                 inbound.reply_to_message_id)
        message = await store.add_message(
            conversation.id, MessageKind.OPERATOR, inbound.operator_id, inbound.operator_name,
            inbound.content, SourceRef(inbound.channel, inbound.chat_id, inbound.message_id),
            reply_to_id, unit.now,
        )
        unit.stored.append(message)
        await self._relays.queue(unit, lane=desk_lane(conversation.id), target=DESK,
                                 chat_id=self._queue.desk_chat, message=message, group=None)
        # An admin in VK's inbox is a person but not one of our operators: no assignee.
        await self._answered(unit, conversation, inbound.operator_id, assign=False)
        return IntakeResult(Outcome.STORED, message.id, conversation.id)

    async def _answered(self, unit: Unit, conversation: Conversation, operator_id: str, *,
                        assign: bool) -> None:
        """A person answered the customer: the wait ends (the clock is the listeners')."""
        now: datetime = unit.now
        change = unit.change(conversation.id)
        change.answered(now, first=conversation.first_response_at is None,
                        assignee=operator_id if assign and conversation.assignee_id is None
                        else None)
        change.human_answer_at(now)
        await self._lifecycle.human_answered(unit, conversation, operator_id)

"""Edits, reachability and greetings: the platform events intake turns into outbox rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core import texts
from core.delivery.queue import Queue
from core.intake.deskref import DeskRef
from core.model import (
    DESK,
    Content,
    ConversationStatus,
    InboundEdit,
    IntakeResult,
    MessageKind,
    Outcome,
    channel_lane,
    desk_lane,
)
from core.ports import Store
from core.unit import Transactions, Unit

REMOVED_MARK = "🗑 deleted by its author:"


class UpdateIntake:
    """Each event in one unit of work, like any intake."""

    def __init__(self, store: Store, transactions: Transactions, queue: Queue,
                 desk: DeskRef) -> None:
        self._store = store
        self._transactions = transactions
        self._queue = queue
        self._desk = desk

    async def apply_edit(self, inbound: InboundEdit) -> IntakeResult:
        """An edited original updates the canonical message and every copy of it."""
        return await self._transactions.run(lambda unit: self._edit(unit, inbound))

    async def mark_removed(self, platform: str, chat_id: str, message_id: str,
                           at: datetime) -> IntakeResult:
        """The author deleted their original: its copy is marked deleted, not removed (the
        conversation's record stays whole)."""
        async def mark(unit: Unit) -> IntakeResult:
            link = await self._store.find_link(platform, chat_id, message_id)
            if link is None or not link.is_origin:
                return IntakeResult(Outcome.IGNORED)
            content = (await self._store.get_message(link.message_id)).content
            if content.text.startswith(REMOVED_MARK):
                return IntakeResult(Outcome.DUPLICATE, link.message_id)
            marked = replace(content, text=f"{REMOVED_MARK}\n{content.text}".rstrip("\n"))
            return await self._edit(unit, InboundEdit(platform, chat_id, message_id, marked,
                                                      at))

        return await self._transactions.run(mark)

    async def _edit(self, unit: Unit, inbound: InboundEdit) -> IntakeResult:
        store = self._store
        link = await store.find_link(inbound.platform, inbound.chat_id, inbound.message_id)
        if link is None or not link.is_origin:
            return IntakeResult(Outcome.IGNORED)
        message = await store.get_message(link.message_id)
        await store.update_content(message.id, inbound.content, inbound.edited_at)
        conversation = await store.get_conversation(message.conversation_id)
        if message.kind not in (MessageKind.CUSTOMER, MessageKind.OPERATOR) \
                or conversation.status is ConversationStatus.BOT:
            # A bot's conversation has no copy on the desk (and must not make a topic).
            return IntakeResult(Outcome.STORED, message.id, conversation.id)
        if not self._desk.is_desk(inbound.platform, inbound.chat_id):
            # Written on a customer channel (the customer's own message, or an answer
            # typed there by an operator): the copy to update is in the topic.
            lane, target, chat = desk_lane(conversation.id), DESK, self._queue.desk_chat
        else:
            identity = await store.get_identity(conversation.reply_identity_id)
            lane = channel_lane(identity.channel, identity.chat_id)
            target, chat = identity.channel, identity.chat_id
        # Same lane as the relay: FIFO guarantees the copy exists when the edit runs.
        await self._queue.edit(unit, lane=lane, target=target, chat_id=chat,
                               message_id=message.id, conversation_id=conversation.id,
                               file_replaced=_file_replaced(message.content, inbound.content))
        return IntakeResult(Outcome.STORED, message.id, conversation.id)

    async def set_reachable(self, channel: str, user_id: str, reachable: bool) -> bool:
        """The platform told us the customer blocked/unblocked us; tell operators once."""
        return await self._transactions.run(
            lambda unit: self._reachable(unit, channel, user_id, reachable))

    async def _reachable(self, unit: Unit, channel: str, user_id: str, reachable: bool
                         ) -> bool:
        store = self._store
        identity = await store.find_identity(channel, user_id)
        if identity is None or identity.reachable == reachable:
            return False
        await store.set_reachable(identity.id, reachable)
        conversation = await store.latest_conversation(identity.customer_id)
        if conversation is not None and conversation.status is not ConversationStatus.BOT:
            customer = await store.get_customer(identity.customer_id)
            await self._queue.notice(unit, conversation.id, texts.render(
                "unblocked" if reachable else "blocked", name=customer.display_name,
                channel_label=texts.channel_label(channel)))
        return True

    async def greet(self, channel: str, chat_id: str, text: str | None = None) -> None:
        await self._transactions.run(lambda unit: self._queue.text_to_customer(
            unit, channel, chat_id, text or texts.render("greeting")))


def _file_replaced(before: Content, after: Content) -> bool:
    """Whether an edit swapped the message's file (a copy can't be edited into another file:
    the relay posts the new version instead)."""
    old = {a.key for a in before.attachments if a.key}
    new = {a.key for a in after.attachments if a.key}
    return bool(old) and bool(new) and old != new

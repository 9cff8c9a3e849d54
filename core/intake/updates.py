"""Edits, reachability and greetings: the platform events intake turns into outbox rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from core import texts
from core.clock import Clock
from core.model import (
    DESK,
    Action,
    Content,
    InboundEdit,
    IntakeResult,
    MessageKind,
    Outcome,
    channel_lane,
    desk_lane,
)
from core.ports import StorePort

T = TypeVar("T")


class Updates:
    """Part of `IntakeService`: each event in one transaction like any intake."""

    _store: StorePort
    _clock: Clock
    _desk_platform: str
    _desk_chat: str

    if TYPE_CHECKING:
        async def _atomic(self, work: Callable[[], Awaitable[T]], attempts: int = 5) -> T: ...
        async def _system_notice(self, conversation_id: int, html: str) -> None: ...
        async def _enqueue(self, **fields: Any) -> None: ...

    # ---- edits -----------------------------------------------------------------------

    async def apply_edit(self, inbound: InboundEdit) -> IntakeResult:
        """An edited original updates the canonical message and every copy of it."""

        async def work() -> IntakeResult:
            store = self._store
            link = await store.find_link(inbound.platform, inbound.chat_id, inbound.message_id)
            if link is None or not link.is_origin:
                return IntakeResult(Outcome.IGNORED)
            message = await store.get_message(link.message_id)
            await store.update_content(message.id, inbound.content, inbound.edited_at)
            replaced = _file_replaced(message.content, inbound.content)
            conversation = await store.get_conversation(message.conversation_id)
            from_desk = (inbound.platform, inbound.chat_id) == (self._desk_platform,
                                                                self._desk_chat)
            if message.kind not in (MessageKind.CUSTOMER, MessageKind.OPERATOR):
                return IntakeResult(Outcome.STORED, message.id, conversation.id)
            if not from_desk:
                # Written on a customer channel (the customer's own message, or an answer
                # typed there by an operator): the copy to update is in the topic.
                lane, target, chat = desk_lane(conversation.id), DESK, self._desk_chat
            else:
                identity = await store.get_identity(conversation.reply_identity_id)
                lane = channel_lane(identity.channel, identity.chat_id)
                target, chat = identity.channel, identity.chat_id
            # Same lane as the relay: FIFO guarantees the copy exists when the edit runs.
            await self._enqueue(
                lane=lane, target=target, chat_id=chat, action=Action.EDIT,
                now=self._clock.now(), message_id=message.id, conversation_id=conversation.id,
                body={"file_replaced": True} if replaced else None,
            )
            return IntakeResult(Outcome.STORED, message.id, conversation.id)

        return await self._atomic(work)

    # ---- reachability and greetings --------------------------------------------------

    async def set_reachable(self, channel: str, user_id: str, reachable: bool) -> bool:
        """The platform told us the customer blocked/unblocked us; tell operators once."""

        async def work() -> bool:
            store = self._store
            identity = await store.find_identity(channel, user_id)
            if identity is None or identity.reachable == reachable:
                return False
            await store.set_reachable(identity.id, reachable)
            conversation = await store.latest_conversation(identity.customer_id)
            if conversation is not None:
                customer = await store.get_customer(identity.customer_id)
                await self._system_notice(
                    conversation.id,
                    texts.render("unblocked" if reachable else "blocked",
                                 name=customer.display_name,
                                 channel_label=texts.channel_label(channel)),
                )
            return True

        return await self._atomic(work)

    async def greet(self, channel: str, chat_id: str, text: str | None = None) -> None:
        async def work() -> None:
            await self._enqueue(
                lane=channel_lane(channel, chat_id), target=channel, chat_id=chat_id,
                action=Action.TEXT, now=self._clock.now(),
                body={"text": text or texts.render("greeting")},
            )

        await self._atomic(work)


def _file_replaced(before: Content, after: Content) -> bool:
    """Whether an edit swapped the message's file (a copy can't be edited into another file:
    the relay posts the new version instead)."""
    old = {a.key for a in before.attachments if a.key}
    new = {a.key for a in after.attachments if a.key}
    return bool(old) and bool(new) and old != new

"""Queueing a message's relay: born claimed into an empty lane, or behind what is there.

Shared by both directions of intake. A relay whose lane has nothing pending or in flight is
created already claimed and handed to the outbox in memory once the unit commits (no
dispatcher wake-up, no claim, no read of what intake just read); any other is queued
`pending` and the outbox is woken for its target. Album parts wait `album_wait` for the
rest of the album, so the parts go out as one group.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from core.delivery.ports import DeliveryStore
from core.model import Action, Content, Conversation, DeliveryStatus, Identity, Message
from core.ports import Handover, MessageStore
from core.unit import Transactions, Unit


class RelayStore(MessageStore, DeliveryStore, Protocol):
    pass


def group_key(platform: str, chat_id: str, content: Content) -> str | None:
    """Albums arrive as separate updates sharing a media group id, unique per chat."""
    if content.media_group_id is None:
        return None
    return f"{platform}:{chat_id}:{content.media_group_id}"


class Relays:
    def __init__(self, store: RelayStore, transactions: Transactions,
                 album_wait: timedelta) -> None:
        self._store = store
        self._transactions = transactions
        self._album_wait = album_wait

    async def queue(
        self, unit: Unit, *, lane: str, target: str, chat_id: str, message: Message,
        group: str | None, identity: Identity | None = None,
        conversation: Conversation | None = None, lane_empty: bool = False,
    ) -> None:
        """`conversation` (desk side, as the unit leaves it) or `identity` (channel side):
        what the relay would read first, handed over with a row born claimed;
        `lane_empty`: no row can be ahead."""
        if group is not None:
            # Albums come with no count and no end marker: every part waits until the
            # album has been quiet for `album_wait`, then the album is relayed as one.
            not_before = unit.now + self._album_wait
            await self._store.postpone_group(lane, group, not_before)
            await self._store.enqueue(
                lane=lane, target=target, chat_id=chat_id, action=Action.RELAY, now=unit.now,
                message_id=message.id, conversation_id=message.conversation_id,
                group_key=group, not_before=not_before,
            )
            unit.touched.add(target)
            return
        delivery = await self._store.enqueue_relay(
            lane=lane, target=target, chat_id=chat_id, message_id=message.id,
            conversation_id=message.conversation_id, now=unit.now,
            claim_until=self._transactions.birth_lease(target), lane_empty=lane_empty,
        )
        if delivery.status is not DeliveryStatus.SENDING:
            unit.touched.add(target)
            return
        if conversation is not None and conversation.id in unit.changes:
            conversation = unit.changes[conversation.id].applied_to(conversation)
        unit.born.append(Handover(message, delivery, conversation, identity))

    async def replied(self, platform: str, chat_id: str, ref: str | None) -> int | None:
        """The canonical message a platform message replied to, if it is linked yet."""
        if ref is None:
            return None
        link = await self._store.find_link(platform, chat_id, ref)
        return link.message_id if link else None

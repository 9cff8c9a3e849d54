"""Operator topics, as the relay needs them: made once per conversation with the customer
card on top, reopened, and orphans deleted. Every call passes the group's rate limiter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar

from core import texts
from core.delivery.desks import Desks
from core.delivery.ratelimit import SlidingWindowLimiter
from core.model import Conversation
from core.ports import DeskPort, Store

T = TypeVar("T")


class CardPostRecord(Protocol):
    async def set_card_post(self, conversation_id: int, post_id: str) -> None: ...


class CardLines(Protocol):
    """More lines for a customer card, from a capability or a channel (a ban, the web page a
    visitor writes from). Plain text: the card escapes them."""

    async def card_lines(self, conversation: Conversation, now: datetime) -> list[str]: ...


class Topics:
    def __init__(self, store: Store, desks: Desks, limiter: SlidingWindowLimiter,
                 now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now
        # What else a card shows (see CardLines), added by the composition root.
        self.card_lines: list[CardLines] = []
        # Where posted cards are recorded, to render them again (core.delivery.cards).
        self.cards: CardPostRecord | None = None
        self._desks = desks
        self._desk = desks.main  # where a call names no group
        self._limiter = limiter

    async def _limited(self, call: Callable[[], Awaitable[T]], desk: DeskPort | None = None
                       ) -> T:
        keys = (desk or self._desk).rate_keys()
        recorded = await self._limiter.acquire(keys, 1, patience=self._desks.patience)
        try:
            return await call()
        finally:
            self._limiter.settle(keys, 1, recorded)

    async def reopen(self, topic_id: int, desk: DeskPort | None = None) -> None:
        """Reopen a topic of `desk`'s group (None: the operator group)."""
        target = desk or self._desk
        await self._limited(lambda: target.reopen_topic(topic_id), target)

    async def delete_orphan(self, topic: int, chat_id: str | None = None) -> None:
        """Delete a topic queued as an orphan (see delivery.orphans) in group `chat_id`
        (None or the operator group's chat: the operator group), unless a conversation of
        that group took it since: nothing is ever posted into a topic no conversation has,
        so it is empty."""
        desk = self._desks.by_chat(chat_id)
        scope = None if desk is self._desks.main else chat_id

        async def delete() -> None:  # checked after the rate limiter's wait, right before
            if await self._store.conversation_by_topic(topic, scope) is None:
                await desk.delete_topic(topic)

        await self._limited(delete, desk)

    async def ensure(self, conversation: Conversation) -> int:
        """Create the conversation's topic and post its customer card, once.

        Called only from the conversation's own desk lane, which the outbox runs one row at
        a time, so a burst of first messages can never make two topics.
        """
        topic_id = conversation.topic_id
        if topic_id is not None and conversation.card_posted:
            return topic_id
        if topic_id is None:
            topic_id = await self.make(conversation)
        # The card is tracked on its own so that a failed card (429, network) is retried
        # before anything else lands in the new topic.
        card = await self.card(conversation)
        desk = self._desks.of(conversation)
        card_topic = topic_id
        post_id = await self._limited(lambda: desk.post_card(card_topic, card), desk)
        if self.cards is not None:
            await self.cards.set_card_post(conversation.id, post_id)
        await self._store.mark_card_posted(conversation.id)
        return topic_id

    async def make(self, conversation: Conversation) -> int:
        """The conversation's topic, created now in its group (one send of its budget)."""
        desk = self._desks.of(conversation)
        customer, _, _ = await self._store.customer_card(conversation.customer_id)
        title = texts.topic_title(customer.display_name, conversation.channel, customer.id)
        return await self._limited(lambda: self._new_topic(desk, conversation.id, title), desk)

    async def card(self, conversation: Conversation) -> str:
        """The customer card of the conversation's topic, as HTML."""
        customer, identities, conversations = await self._store.customer_card(
            conversation.customer_id
        )
        main = next((i for i in identities if i.id == conversation.reply_identity_id), None)
        now, extra = self._now(), []
        for source in self.card_lines:
            extra += await source.card_lines(conversation, now)
        return texts.render(
            "card",
            name=customer.display_name,
            username=main.username if main else None,
            link=main.link if main else None,
            channel_label=texts.channel_label(conversation.channel),
            language=customer.language,
            customer_id=customer.id,
            conversation_id=conversation.id,
            previous=conversations - 1,
            identities=[f"{texts.channel_label(i.channel)} {i.user_id}" for i in identities],
            department=self._desks.department_name(conversation),
            extra=extra,
        )

    async def _new_topic(self, desk: DeskPort, conversation_id: int, title: str) -> int:
        """A topic for the conversation: the one it got while this waited, else a new one.

        A topic whose createForumTopic answer was lost (the connection dropped after Telegram
        made it) is adopted by the conversation when the topic's own update arrives (see
        delivery.orphans), so a retry looks again before creating one. The topic is stored
        only where none is (`claim_topic`): when an adoption won the race, that topic is
        used and the one made here, never posted into, is deleted as an orphan.
        """
        current = (await self._store.get_conversation(conversation_id)).topic_id
        if current is not None:
            return current
        made = await desk.create_topic(title)
        return await self._store.claim_topic(conversation_id, made)

"""A new conversation's first post: the customer card and the customer's first message in
one post (one send of the group's budget, not two).

Where the first message is text, the card heads the text; a photo or a document (any file
with a caption) carries the card as its caption. What cannot carry it (an album, a
sticker, a caption that would not fit with the card) keeps today's order: the card, then
the message. The post is linked to the customer's message like any copy, so an operator's
reply to it answers that message; an edit of the message renders the card again
(`edit`), since the post is the card too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.delivery.spares import SpareTopics
from core.delivery.topics import Topics
from core.model import Action, Conversation, Delivery, Message, Outgoing
from core.ports import RateKey, Store


class FirstPostStore(Protocol):
    async def mark_first_post(self, conversation_id: int, message_id: int) -> None: ...
    async def is_first_post(self, message_id: int) -> bool: ...


class FirstPostDesk(Protocol):
    """What a desk platform offers for a first post (Telegram's: adapters.telegram)."""

    def rate_keys(self) -> Sequence[RateKey]: ...
    def first_sends(self, card_html: str, item: Outgoing) -> int | None:
        """How many messages `post_first` puts into the group; None when the item can't
        carry the card."""
        ...
    async def post_first(self, topic_id: int, card_html: str, item: Outgoing) -> str:
        """The post's id (the one linked to the customer's message)."""
        ...
    async def edit_first(self, topic_id: int, post_id: str, card_html: str,
                         message: Message, reply_to: str | None) -> str | None:
        """As DeskPort.edit, keeping the card on top: None when edited in place, else the
        id of the new version posted."""
        ...


@dataclass(frozen=True, slots=True)
class FirstPost:
    """A planned first post: into `topic_id`, `sends` messages, the card on top."""

    topic_id: int
    card: str
    item: Outgoing
    sends: int


class FirstPosts:
    def __init__(self, store: Store, posts: FirstPostStore,
                 desk_of: Callable[[Conversation], FirstPostDesk],
                 topics: Topics, spares: SpareTopics | None) -> None:
        """`desk_of`: the group of a conversation's topic (each group posts its own)."""
        self._store = store
        self._posts = posts
        self.desk_of = desk_of
        self._topics = topics
        self._spares = spares

    async def plan(self, conversation: Conversation, items: Sequence[Outgoing]
                   ) -> tuple[Conversation, FirstPost | None]:
        """Before the conversation's first relay into the desk: a spare topic when it has
        none, and the combined post when the message can carry the card (None: post the
        card first, as `Topics.ensure` does)."""
        if conversation.topic_id is not None and conversation.card_posted:
            return conversation, None
        if self._spares is not None:
            conversation = await self._spares.take(conversation)
        if len(items) != 1:  # an album stays an album, after the card
            return conversation, None
        card = await self._topics.card(conversation)
        sends = self.desk_of(conversation).first_sends(card, items[0])
        if sends is None:
            return conversation, None
        topic = conversation.topic_id
        if topic is None:
            topic = await self._topics.make(conversation)
        return conversation, FirstPost(topic, card, items[0], sends)

    async def topic(self, conversation: Conversation) -> tuple[Conversation, int]:
        """The conversation's topic for its first post: a spare, else one made now."""
        if self._spares is not None:
            conversation = await self._spares.take(conversation)
        topic = conversation.topic_id
        if topic is None:
            topic = await self._topics.make(conversation)
        return conversation, topic

    async def is_first(self, message_id: int) -> bool:
        return await self._posts.is_first_post(message_id)

    async def posted(self, conversation: Conversation, item: Outgoing) -> None:
        """The post went out: the card is there, and the message carries it."""
        await self._posts.mark_first_post(conversation.id, item.message.id)
        await self._store.mark_card_posted(conversation.id)

    async def carries_card(self, delivery: Delivery) -> bool:
        return delivery.action is Action.EDIT and delivery.message_id is not None \
            and await self._posts.is_first_post(delivery.message_id)

    async def edit(self, topic_id: int, conversation: Conversation, post_id: str,
                   message: Message, reply_to: str | None) -> str | None:
        card = await self._topics.card(conversation)
        return await self.desk_of(conversation).edit_first(topic_id, post_id, card, message,
                                                           reply_to)

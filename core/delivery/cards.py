"""A posted customer card rendered again (Action.EDIT_CARD): when what it shows changed
after it was posted (a ban, its end).

The card is a post of its own, whose id is stored when it goes out; or, with surge
handling, it shares the topic's first post with the customer's first message, and that
post is edited as for an edit of the message (first_post renders the card on top again).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from core.delivery.topics import Topics
from core.errors import NotModified
from core.model import Conversation
from core.ports import DeskPort


class CardPosts(Protocol):
    async def set_card_post(self, conversation_id: int, post_id: str) -> None: ...
    async def card_post(self, topic_id: int, desk_chat: str | None) -> str | None:
        """The card posted on its own in that topic (of that group; None: the main one)."""
        ...
    async def first_post_in(self, topic_id: int, desk_chat: str | None) -> int | None:
        """The customer message whose post carries the topic's card, if one does."""
        ...


Limited = Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]


class CardEdits:
    def __init__(self, posts: CardPosts, topics: Topics) -> None:
        self._posts = posts
        self._topics = topics
        topics.cards = posts  # the card's id is stored when it is posted

    async def edit(self, conversation: Conversation, desk: DeskPort, limited: Limited
                   ) -> int | None:
        """Render the card again in its own post. The id of the message whose post carries
        the card instead (the caller edits that post as an edit of the message); None when
        done, or when no card is posted yet (it is rendered as it is then)."""
        topic = conversation.topic_id
        if topic is None or not conversation.card_posted:
            return None
        # The topic's card: a later conversation of the customer goes on under it.
        post_id = await self._posts.card_post(topic, conversation.desk_chat)
        if post_id is None:
            return await self._posts.first_post_in(topic, conversation.desk_chat)
        html = await self._topics.card(conversation)
        # NotModified: it shows this already (a retry, or a ban that ended and came back).
        with contextlib.suppress(NotModified):
            await limited(lambda: desk.edit_card(topic, post_id, html))
        return None

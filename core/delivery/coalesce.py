"""Coalescing under pressure: a chatty customer's consecutive texts in one post.

When a topic's lane is waiting for the group's budget anyway, the texts it holds go out as
one post (each part marked with its time; long runs split at the platform's limit), so one
customer's ten messages cost one send, not ten, and hold nobody else back. Every part keeps
its link: the post is linked to the run's last part (an operator's reply to it answers
that), the parts are recorded with the post (`coalesced_part`), so an edit of any part
renders the post again and a customer's reply to any part threads onto it. With budget to
spare nothing changes: each message is its own post.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from core.model import Action, Conversation, Delivery, Message, MessageKind, Outgoing

# Telegram lets a bot edit its message for 48 hours; past that a marked correction is posted.
EDIT_WINDOW = timedelta(hours=48)


class CoalescedStore(Protocol):
    async def add_parts(self, conversation_id: int, post_id: str, message_ids: Sequence[int],
                        now: datetime) -> None: ...
    async def part_post(self, message_id: int) -> tuple[str, datetime] | None:
        """The post a coalesced message is part of, and when it was posted."""
        ...
    async def post_parts(self, conversation_id: int, post_id: str) -> list[int]:
        """The message ids of a coalesced post, in order (a post id is unique per group
        only: the conversation names the group)."""
        ...


class CoalescingDesk(Protocol):
    def coalesced_sends(self, card_html: str | None, items: Sequence[Outgoing],
                        labels: Sequence[str]) -> int | None:
        """How many posts `post_coalesced` makes; None when the parts can't go together."""
        ...
    async def post_coalesced(self, topic_id: int, card_html: str | None,
                             items: Sequence[Outgoing], labels: Sequence[str]
                             ) -> list[str]:
        """The id of the post each item went into, in the order of `items`."""
        ...
    async def edit_coalesced(self, post_id: str, card_html: str | None,
                             messages: Sequence[Message], labels: Sequence[str]) -> bool:
        """Render the post again; False when its parts no longer fit one post."""
        ...
    async def post_correction(self, topic_id: int, post_id: str, message: Message,
                              label: str) -> str: ...


def textual(item: Outgoing) -> bool:
    """A customer's plain text that can share a post (no file, no reply of its own)."""
    message, content = item.message, item.message.content
    return message.kind is MessageKind.CUSTOMER and content.content_type == "text" \
        and content.copyable and not content.attachments and item.reply_to is None \
        and not content.data.get("has_caption") and not content.data.get("html") \
        and bool(content.text)


def can_join(deliveries: Sequence[Delivery], items: Sequence[Outgoing]) -> bool:
    return bool(items) and len(items) == len(deliveries) \
        and all(d.action is Action.RELAY for d in deliveries) and all(map(textual, items))


class Coalescer:
    def __init__(self, store: CoalescedStore, desk_of: Callable[[Conversation], CoalescingDesk],
                 zone: ZoneInfo) -> None:
        """`desk_of`: the group of a conversation's topic (each group posts its own)."""
        self.store = store
        self.desk_of = desk_of
        self._zone = zone
        self.posts = 0  # coalesced posts made (the bench looks)

    def labels(self, messages: Sequence[Message]) -> list[str]:
        """Each part's mark: when the customer wrote it, in the desk's time zone."""
        return [m.created_at.astimezone(self._zone).strftime("%H:%M:%S") for m in messages]

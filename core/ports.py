"""The kernel's ports: the platforms (desk, channels, files) and the stores every capability
shares (customers, conversations, messages). Capabilities declare their own stores in their
sub-package (`core.delivery.ports`, `core.intake.ports`, `core.sla.ports`); one storage
class may implement several."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.model import (
    Choice,
    Content,
    Conversation,
    ConversationStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    Identity,
    Message,
    MessageKind,
    Outgoing,
    Profile,
    SourceRef,
)


class DuplicateError(Exception):
    """A unique key already exists (the store maps its integrity errors to this)."""


@dataclass(frozen=True, slots=True)
class Link:
    message_id: int
    platform: str
    chat_id: str
    platform_message_id: str
    is_origin: bool


@dataclass(frozen=True, slots=True)
class RateKey:
    """A modelled platform limit: at most `count` sends per `window` seconds for `key`."""

    key: str
    count: int
    window: float


@dataclass(frozen=True, slots=True)
class Handover:
    """A relay intake just stored, with what the outbox needs to run it at once.

    When the delivery was born claimed (`claimed`: its lane had nothing pending or in
    flight), intake hands it to the outbox in memory, with `conversation` (desk side) or
    `identity` (channel side) as read in the same transaction.
    """

    message: Message
    delivery: Delivery
    conversation: Conversation | None = None
    identity: Identity | None = None

    @property
    def claimed(self) -> bool:
        return self.delivery.status is DeliveryStatus.SENDING


class CustomerStore(Protocol):
    """Customers and their identities on each channel."""

    async def upsert_identity(
        self, channel: str, user_id: str, chat_id: str, profile: Profile, now: datetime
    ) -> tuple[Identity, Customer, bool]: ...
    async def get_identity(self, identity_id: int) -> Identity: ...
    async def get_customer(self, customer_id: int) -> Customer: ...
    async def identities_of(self, customer_id: int) -> list[Identity]: ...
    async def customer_card(self, customer_id: int) -> tuple[Customer, list[Identity], int]:
        """The customer, their identities and their number of conversations, at once."""
        ...
    async def set_reachable(self, identity_id: int, reachable: bool) -> None: ...
    async def find_identity(self, channel: str, user_id: str) -> Identity | None: ...
    async def move_customer(self, from_id: int, into_id: int) -> None:
        """Re-point every identity and conversation of `from_id` to `into_id`."""
        ...
    async def find_identity_by_chat(self, channel: str, chat_id: str) -> Identity | None: ...



class ConversationStore(Protocol):
    """Conversations and their operator topics."""

    async def open_conversation(self, customer_id: int) -> Conversation | None: ...
    async def latest_conversation(self, customer_id: int) -> Conversation | None: ...
    async def last_topic(self, customer_id: int) -> Conversation | None:
        """The customer's latest conversation that has a topic (a new one reuses it)."""
        ...
    async def create_conversation(
        self, customer_id: int, channel: str, identity_id: int, topic_id: int | None,
        now: datetime, status: ConversationStatus = ConversationStatus.OPEN,
    ) -> Conversation: ...
    async def get_conversation(self, conversation_id: int) -> Conversation: ...
    async def conversation_by_topic(self, topic_id: int, desk_chat: str | None = None
                                    ) -> Conversation | None:
        """The conversation of a topic in the operator group (`desk_chat` None) or in a
        department's own group (topic ids are unique only within a group)."""
        ...
    async def lock_conversation(self, conversation_id: int) -> Conversation:
        """The conversation read again under its row lock (PostgreSQL; SQLite's one writer
        serializes already): a bot's hand-over and a customer message of the same
        conversation take turns."""
        ...
    async def change_conversation(self, conversation_id: int,
                                  fields: Mapping[str, object]) -> None:
        """Write the fields a unit of work set (`core.unit.ConversationChange`)."""
        ...
    async def close_conversation(self, conversation_id: int, at: datetime,
                                 reason: str | None = None) -> None:
        """Closed now, with its `reason` (a `core.lifecycle.CloseReason`); at once, not with
        the unit's other changes: /link moves the customer's conversations right after, and
        one open conversation per customer is a unique key."""
        ...
    async def reopen_conversation(self, conversation_id: int) -> bool:
        """Closed → open again, unless the customer already has another open one."""
        ...
    async def mark_card_posted(self, conversation_id: int) -> None: ...
    async def set_topic(self, conversation_id: int, topic_id: int | None) -> None: ...
    async def claim_topic(self, conversation_id: int, topic_id: int) -> int:
        """Store `topic_id` as the conversation's topic if it has none (one conditional
        statement); the topic it has afterwards: `topic_id`, or the one stored first."""
        ...
    async def forget_topic(self, topic_id: int, desk_chat: str | None = None) -> None:
        """Conversations of a topic that is gone (in the operator group, or `desk_chat`)
        get a new one with their next post."""
        ...



class MessageStore(Protocol):
    """Canonical messages and their links to platform messages."""

    async def add_message(
        self, conversation_id: int, kind: MessageKind, author_id: str | None,
        author_name: str | None, content: Content, source: SourceRef | None,
        reply_to_id: int | None, now: datetime, reply_ref: str | None = None,
    ) -> Message:
        """Store a message and, when it has a `source`, its origin link in the same unit.
        DuplicateError when that platform message was stored before."""
        ...
    async def add_system_messages(
        self, items: Sequence[tuple[int, Content]], now: datetime
    ) -> list[int]:
        """Store bot-authored system messages, (conversation id, content) each, in one go;
        their ids in the order of `items`."""
        ...
    async def get_message(self, message_id: int) -> Message: ...
    async def update_content(self, message_id: int, content: Content, now: datetime) -> None: ...
    async def add_link(
        self, message_id: int, platform: str, chat_id: str, platform_message_id: str,
        is_origin: bool,
    ) -> None: ...
    async def find_link(
        self, platform: str, chat_id: str, platform_message_id: str
    ) -> Link | None: ...
    async def links_of(self, message_id: int) -> list[Link]: ...

    async def operator_names(self, operator_ids: Sequence[str]) -> dict[str, str]:
        """The name each operator last wrote under."""
        ...


class CursorStore(Protocol):
    """Where a platform's update stream was last acknowledged (platforms that keep no
    acknowledged position for us)."""

    async def load_cursor(self, name: str) -> str | None: ...
    async def save_cursor(self, name: str, value: str, now: datetime) -> None: ...



class TransactionStore(Protocol):
    """Calls made inside `transaction()` share one transaction."""

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...


class Store(TransactionStore, CustomerStore, ConversationStore, MessageStore, Protocol):
    """The shared stores together (what most conversation work needs)."""


class FileSource(Protocol):
    """Where the files of one platform's messages can be fetched (see `Attachment`)."""

    platform: str

    async def fetch(self, ref: str) -> bytes: ...


class DeskPort(Protocol):
    """The operator desk: one forum group, one topic per conversation."""

    platform: str
    chat_id: str

    def rate_keys(self) -> Sequence[RateKey]: ...
    def max_batch(self) -> int: ...
    def can_batch(self, first: Outgoing, nxt: Outgoing) -> bool: ...
    async def create_topic(self, title: str) -> int: ...
    async def reopen_topic(self, topic_id: int) -> None: ...
    async def close_topic(self, topic_id: int) -> None: ...
    async def delete_topic(self, topic_id: int) -> None:
        """Delete a topic with everything in it; one already gone counts as deleted."""
        ...
    def sends_for(self, items: Sequence[Outgoing]) -> int:
        """How many messages `post(items)` puts into the group (what its limits count):
        more than one per item when a message must be split or its files sent apart."""
        ...
    async def post(self, topic_id: int | None, items: Sequence[Outgoing]
                   ) -> Sequence[str | None]:
        """The copies' platform ids in the order of `items`; None where a copy's id is not
        known (Telegram's copyMessages may skip messages without saying which)."""
        ...
    async def post_html(self, topic_id: int | None, html: str) -> str: ...
    async def post_photo(self, topic_id: int | None, png: bytes, caption_html: str) -> str: ...
    async def rename_topic(self, topic_id: int, title: str) -> None: ...
    async def post_card(self, topic_id: int, html: str) -> str:
        """The customer card on top of a topic, with the conversation's controls."""
        ...
    async def edit_card(self, topic_id: int, post_id: str, html: str) -> None:
        """A posted card's new text, the controls kept (NotModified when it is the same)."""
        ...
    async def edit(self, topic_id: int | None, platform_message_id: str, message: Message,
                   reply_to: str | None) -> str | None: ...


class ChannelPort(Protocol):
    """A customer channel (Telegram private chats, VK community messages)."""

    name: str
    platform: str

    def rate_keys(self, chat_id: str) -> Sequence[RateKey]: ...
    def max_batch(self) -> int: ...
    def can_batch(self, first: Outgoing, nxt: Outgoing) -> bool: ...
    def sends_for(self, items: Sequence[Outgoing]) -> int:
        """How many messages `send(items)` puts into the chat (what its limits count)."""
        ...
    async def send(self, chat_id: str, items: Sequence[Outgoing]) -> Sequence[str | None]:
        """As DeskPort.post: ids in the order of `items`, None where unknown."""
        ...
    async def send_text(self, chat_id: str, text: str, key: int = 0,
                        choices: Sequence[Sequence[Choice]] = ()) -> str:
        """A bot-authored text (HTML: the channel renders it as it can), with buttons under
        it when `choices`; `key` (the delivery id) makes the send idempotent where the
        platform allows it."""
        ...
    async def edit(self, chat_id: str, platform_message_id: str, message: Message,
                   reply_to: str | None) -> str | None: ...

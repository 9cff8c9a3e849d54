"""Ports: what the core needs from storage and from platforms. Adapters implement these."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.model import (
    Action,
    Content,
    Conversation,
    Customer,
    Delivery,
    DeliveryStatus,
    Identity,
    InboundCustomerMessage,
    InboundOperatorMessage,
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


@dataclass(frozen=True, slots=True)
class LaneClaim:
    """What a lane task's next claim took, and when the lane's next row left behind becomes
    due (None: nothing pending is left in the lane). A lane that ends with a row left
    behind must tell the dispatcher, which could not see it while the lane was running."""

    rows: list[Delivery]
    next_due: datetime | None = None


class StorePort(Protocol):
    """Repositories over the core model. Calls inside `transaction()` share one transaction."""

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...

    # Intake's common cases in one statement, where the database can (PostgreSQL): None
    # when the store has no such path or the case is not the common one (then intake runs
    # its general transaction). Raises DuplicateError for a platform message stored before.
    @property
    def fast_intake(self) -> bool:
        """Whether calling them can ever return something."""
        ...

    async def fast_customer_message(
        self, inbound: InboundCustomerMessage, now: datetime, desk_chat_id: str,
        lease_until: datetime | None,
    ) -> Handover | None: ...
    async def fast_operator_message(
        self, inbound: InboundOperatorMessage, now: datetime, answered: bool,
        lease_until: datetime | None,
    ) -> Handover | None: ...

    # identities and customers
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

    # conversations
    async def open_conversation(self, customer_id: int) -> Conversation | None: ...
    async def latest_conversation(self, customer_id: int) -> Conversation | None: ...
    async def create_conversation(
        self, customer_id: int, channel: str, identity_id: int, topic_id: int | None,
        now: datetime,
    ) -> Conversation: ...
    async def get_conversation(self, conversation_id: int) -> Conversation: ...
    async def conversation_by_topic(self, topic_id: int) -> Conversation | None: ...
    async def update_conversation(self, conversation_id: int, **fields: Any) -> None: ...
    async def set_topic(self, conversation_id: int, topic_id: int | None) -> None: ...
    async def claim_topic(self, conversation_id: int, topic_id: int) -> int:
        """Store `topic_id` as the conversation's topic if it has none (one conditional
        statement); the topic it has afterwards: `topic_id`, or the one stored first."""
        ...
    async def forget_topic(self, topic_id: int) -> None: ...

    # messages and links
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

    # update cursors (platforms that keep no acknowledged position for us)
    async def load_cursor(self, name: str) -> str | None: ...
    async def save_cursor(self, name: str, value: str, now: datetime) -> None: ...

    # the outbox
    async def enqueue(
        self, *, lane: str, target: str, chat_id: str, action: Action, now: datetime,
        message_id: int | None = None, conversation_id: int | None = None,
        group_key: str | None = None, not_before: datetime | None = None,
        body: dict[str, Any] | None = None,
    ) -> int: ...
    async def enqueue_relay(
        self, *, lane: str, target: str, chat_id: str, message_id: int,
        conversation_id: int | None, now: datetime, claim_until: datetime | None,
        lane_empty: bool = False,
    ) -> Delivery:
        """Inside intake's transaction: a relay row, born claimed (`sending`) when
        `claim_until` is given and its lane is empty (`lane_empty`: the caller knows it;
        else the store says, where it can tell atomically)."""
        ...
    async def enqueue_relays(
        self, rows: Sequence[tuple[str, str, str, int, int]], now: datetime
    ) -> None:
        """Queue many RELAY rows due now in one go: (lane, target, chat id, message id,
        conversation id) each, FIFO in the order given."""
        ...
    async def postpone_group(self, lane: str, group_key: str, until: datetime) -> None: ...
    async def claim_heads(
        self, now: datetime, limit: int, exclude_lanes: set[str], lease_until: datetime | None,
        target: str,
    ) -> list[Delivery]:
        """First rows of idle lanes; marked `sending` with a lease unless `lease_until` is
        None (the only process on the database keeps its claims in memory)."""
        ...
    async def claim_next(
        self, lane: str, now: datetime, limit: int, lease_until: datetime | None,
        after_id: int = 0, held: Sequence[int] = (),
    ) -> LaneClaim: ...
    async def finish(
        self, delivery_id: int, status: DeliveryStatus, error: str | None = None
    ) -> None: ...
    async def complete(
        self, delivery_ids: Sequence[int], copies: Sequence[tuple[int, str, str, str]] = ()
    ) -> None:
        """Mark rows done and record the links of the copies they made, (message id,
        platform, chat id, platform message id), as one unit; a link already recorded
        stays as it is."""
        ...
    async def reschedule(
        self, delivery_id: int, at: datetime, error: str | None, attempts: int
    ) -> None: ...
    async def release(self, delivery_ids: Sequence[int]) -> None: ...
    async def extend_leases(self, delivery_ids: Sequence[int], until: datetime) -> None: ...
    async def release_stale(self, now: datetime) -> int: ...
    async def release_orphaned(self) -> int:
        """Rows in flight of processes known to be dead, due again at once (0 where the
        store cannot tell, e.g. with one process on SQLite)."""
        ...
    async def next_due_at(
        self, exclude_lanes: set[str] | None = None, targets: Sequence[str] | None = None,
    ) -> datetime | None: ...
    async def overdue_heads(
        self, before: datetime, exclude_lanes: set[str], targets: Sequence[str],
        limit: int = 20,
    ) -> list[Delivery]:
        """Claimable lane heads of `targets` due before `before`, outside `exclude_lanes`."""
        ...
    async def count_deliveries(self, status: DeliveryStatus | None = None) -> int: ...


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
    async def send_text(self, chat_id: str, text: str, key: int = 0) -> str:
        """A bot-authored text; `key` (the delivery id) makes the send idempotent where the
        platform allows it."""
        ...
    async def edit(self, chat_id: str, platform_message_id: str, message: Message,
                   reply_to: str | None) -> str | None: ...


@dataclass(frozen=True, slots=True)
class DueDeadline:
    """A deadline the sweep must act on, with what a post about it needs."""

    id: int
    conversation_id: int
    channel: str
    kind: str
    seq: int
    started_at: datetime
    due_at: datetime
    remind_at: datetime | None
    reminded: bool
    topic_id: int | None
    assignee_id: str | None


@dataclass(frozen=True, slots=True)
class DeadlineRecord:
    """A target's history, for reports."""

    conversation_id: int
    channel: str
    kind: str
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    stopped_by: str | None
    breached: bool


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: int
    channel: str
    assignee_id: str | None
    opened_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class TitleWork:
    """A topic whose status emoji should change."""

    conversation_id: int
    topic_id: int
    customer_id: int
    name: str
    channel: str
    want: str


class SlaStorePort(Protocol):
    """SLA deadlines and breaches. Every claim is conditional, so a deadline reminds and
    breaches at most once, whatever the number of processes or restarts."""

    async def start_deadlines(self, conversation_id: int, channel: str,
                              deadlines: Sequence[Any]) -> None:
        """Add `core.sla.Deadline`s, each with the next `seq` of its kind."""
        ...
    async def stop_deadlines(self, conversation_id: int, kinds: Sequence[str], now: datetime,
                             by: str | None) -> None: ...
    async def due_deadlines(self, now: datetime, limit: int) -> list[DueDeadline]: ...
    async def claim_reminders(self, ids: Sequence[int], now: datetime) -> set[int]:
        """Mark reminders sent; returns the ids this caller won."""
        ...
    async def record_breaches(self, ids: Sequence[int], now: datetime,
                              title_due: datetime | None = None) -> set[int]:
        """Insert one breach per deadline; returns the ids this caller won. With
        `title_due`, their topics' status mark turns overdue from then on."""
        ...
    async def postpone_deadlines(self, conversation_id: int, until: datetime) -> int: ...
    async def overdue(self, now: datetime, limit: int) -> list[DueDeadline]: ...
    async def history(self, since: datetime, until: datetime
                      ) -> tuple[list[ConversationRecord], list[DeadlineRecord]]: ...
    async def reopen_conversation(self, conversation_id: int) -> bool: ...
    async def operator_names(self, operator_ids: Sequence[str]) -> dict[str, str]: ...
    async def titles_due(self, now: datetime, limit: int) -> list[TitleWork]: ...
    async def title_applied(self, conversation_id: int, mark: str | None) -> None: ...
    async def forget_title(self, conversation_id: int) -> None: ...

"""Core values: what a conversation, a message and a delivery are, whatever the platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class MessageKind(StrEnum):
    CUSTOMER = "customer"
    OPERATOR = "operator"
    NOTE = "note"
    BOT = "bot"
    SYSTEM = "system"


class ConversationStatus(StrEnum):
    BOT = "bot"
    OPEN = "open"
    CLOSED = "closed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"  # permanent outcome that changed state (e.g. customer blocked the bot)
    DEAD = "dead"  # gave up after max attempts or a permanent error; operators were told


class Action(StrEnum):
    RELAY = "relay"  # deliver a canonical message
    EDIT = "edit"  # apply a message's edited content to an existing copy
    TEXT = "text"  # a bot-authored text that is not part of a conversation (greetings)
    CLOSE_TOPIC = "close_topic"
    REOPEN_TOPIC = "reopen_topic"
    DELETE_TOPIC = "delete_topic"  # an orphan topic (body: topic_id), see core/delivery/orphans.py
    EDIT_CARD = "edit_card"  # render a conversation's posted card again (core/delivery/cards.py)


DESK = "desk"  # the target name of the operator desk; channel names are "telegram", "vk"


@dataclass(frozen=True, slots=True)
class Profile:
    """What a platform tells about a person; every string here is customer-supplied."""

    display_name: str
    username: str | None = None
    language: str | None = None
    link: str | None = None


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a message originally lives on its platform (used to copy it verbatim)."""

    platform: str
    chat_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that lives on the platform it came from.

    Another platform can't copy it: the channel or desk on the other side fetches the bytes
    from `platform` (through the `Files` registry, by `ref`, the origin's own handle: a
    Telegram file_id, a VK URL) and uploads them its own way. `kind` is one of "photo",
    "document", "voice", "sticker", "video", "audio", "animation". `key` is the file's
    stable identity where the platform has one (Telegram's file_unique_id; a `ref` may
    differ between two updates about the same file): an edit whose keys changed replaced
    the file.
    """

    kind: str
    platform: str
    ref: str
    name: str | None = None
    mime: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Content:
    """A normalized message body.

    `text` is the plain text (or caption); `data` holds the adapter's own description of the
    content (entities, file ids, content type) so the same adapter can copy or re-render it.
    `copyable` says whether the platform can copy the original; when it can't, `summary`
    is what operators see instead (a placeholder such as "📊 Poll: …"). `attachments` are
    files another platform must fetch and upload; `quote` is the replied-to message as text.
    """

    content_type: str
    text: str = ""
    copyable: bool = True
    summary: str | None = None
    media_group_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    # The message this one replied to, as plain text ("who: what"), for when the reply can't
    # be threaded on the other side (the original was never relayed).
    quote: str | None = None


@dataclass(frozen=True, slots=True)
class InboundCustomerMessage:
    channel: str
    user_id: str
    chat_id: str
    message_id: str
    profile: Profile
    content: Content
    sent_at: datetime
    reply_to_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundOperatorMessage:
    platform: str
    chat_id: str
    thread_id: int
    message_id: str
    operator_id: str
    operator_name: str
    content: Content
    sent_at: datetime
    reply_to_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundChannelAnswer:
    """An operator's answer written on the customer's own channel, outside the desk (a VK
    community admin in VK's web inbox): the customer already has it, so it only goes to
    the operator topic, and it counts as a human answer."""

    channel: str
    chat_id: str
    message_id: str
    operator_id: str
    operator_name: str
    content: Content
    sent_at: datetime
    reply_to_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """A button under a bot message to a customer: its label, and the payload a press sends
    back (`<capability>:<data>`, at most 64 bytes: Telegram's callback_data limit)."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class InboundPress:
    """A customer pressed a button under one of the bot's messages."""

    channel: str
    user_id: str
    chat_id: str
    payload: str
    message_id: str | None = None  # the platform message the button was under


@dataclass(frozen=True, slots=True)
class InboundEdit:
    platform: str
    chat_id: str
    message_id: str
    content: Content
    edited_at: datetime


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    display_name: str
    language: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Identity:
    id: int
    customer_id: int
    channel: str
    user_id: str
    chat_id: str
    username: str | None
    link: str | None
    reachable: bool


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    customer_id: int
    channel: str
    status: ConversationStatus
    topic_id: int | None
    reply_identity_id: int
    assignee_id: str | None
    opened_at: datetime
    first_response_at: datetime | None
    waiting_since: datetime | None
    closed_at: datetime | None
    card_posted: bool = False
    acked_at: datetime | None = None  # the last SLA acknowledgement sent to the customer
    answered_at: datetime | None = None  # the last human operator answer
    # Departments (core/departments): the team it was routed to, and the forum group its
    # topic lives in when that is not the operator group (None: `operators.chat_id`).
    # Topic ids are only unique within one group.
    department: str | None = None
    desk_chat: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: int
    kind: MessageKind
    author_id: str | None
    author_name: str | None
    content: Content
    source: SourceRef | None
    reply_to_id: int | None
    created_at: datetime
    edited_at: datetime | None
    reply_ref: str | None = None  # unmapped platform reply target, in the source chat


@dataclass(frozen=True, slots=True)
class DeskPost:
    """The body of a bot post into the group that belongs to no conversation (a TEXT row
    for the desk): the General topic unless `topic_id`; a base64 PNG with `html` as its
    caption when `png` is set."""

    html: str
    topic_id: int | None = None
    png: str | None = None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"html": self.html}
        if self.topic_id is not None:
            body["topic_id"] = self.topic_id
        if self.png is not None:
            body["png"] = self.png
        return body


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    lane: str
    target: str  # DESK or a channel name
    chat_id: str
    action: Action
    message_id: int | None
    conversation_id: int | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    group_key: str | None
    body: dict[str, Any]
    last_error: str | None = None
    # Whether the lane had more pending rows behind this one when it was claimed (a claim
    # that knows there are none saves the lane a look for followers to batch with).
    more: bool = True

    # The body, read by what it means for each action (rows store it as JSON).
    def desk_post(self) -> DeskPost:
        """A desk TEXT row's post."""
        topic, png = self.body.get("topic_id"), self.body.get("png")
        return DeskPost(str(self.body.get("html", "")), int(topic) if topic else None,
                        str(png) if png else None)

    def customer_text(self) -> str:
        """A channel TEXT row's text (a greeting, an acknowledgement)."""
        return str(self.body.get("text", ""))

    def customer_choices(self) -> list[list[Choice]]:
        """A channel TEXT row's buttons, in rows (none: an empty list)."""
        return [[Choice(str(c["label"]), str(c["payload"])) for c in row]
                for row in self.body.get("choices") or []]

    @property
    def file_replaced(self) -> bool:
        """An EDIT row whose edit swapped the message's file."""
        return bool(self.body.get("file_replaced"))

    @property
    def orphan_topic(self) -> int:
        """A DELETE_TOPIC row's topic."""
        return int(self.body["topic_id"])


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to put on a platform, with the reply target already mapped into it."""

    message: Message
    reply_to: str | None = None
    key: int = 0  # the delivery id: platforms with idempotent sends derive their key from it


def desk_lane(conversation_id: int | None) -> str:
    return f"{DESK}:{conversation_id}" if conversation_id is not None else f"{DESK}:general"


def channel_lane(channel: str, chat_id: str) -> str:
    return f"{channel}:{chat_id}"


class Outcome(StrEnum):
    STORED = "stored"
    PENDING = "pending"  # a held message of a poller's run: stored when the run settles
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class IntakeResult:
    outcome: Outcome
    message_id: int | None = None
    conversation_id: int | None = None

"""What intake needs from storage beyond the shared stores: the one-statement path, and
many customer messages stored at once (a flood's held messages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.model import Content, InboundCustomerMessage, InboundOperatorMessage, Message, SourceRef
from core.ports import Handover


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A customer message to store (`add_customer_messages`)."""

    author_id: str
    author_name: str | None
    content: Content
    source: SourceRef
    reply_to_id: int | None = None
    reply_ref: str | None = None


class HeldMessageStore(Protocol):
    async def add_customer_messages(
        self, conversation_id: int, items: Sequence[NewMessage], now: datetime
    ) -> list[Message]:
        """Customer messages of one conversation and their origin links, in a statement or
        two; in the order of `items`. DuplicateError when one was stored before."""
        ...


class FastIntake(Protocol):
    """Intake's common cases in one statement (PostgreSQL: migration 0004)."""

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
        lease_until: datetime | None, desk_chat: str | None = None,
    ) -> Handover | None:
        """`desk_chat`: the group the topic is in, as `Conversation.desk_chat` (None: the
        operator group): a topic id is unique only within its group."""
        ...

"""What abuse protection needs: its store (bans, and the messages it kept off the desk),
and the close operation, handed over by the composition root."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.lifecycle import Closure
from core.model import Conversation
from core.unit import Unit


class EventKind(StrEnum):
    SUPPRESSED = "suppressed"  # a banned customer's message: stored, not relayed
    HELD = "held"  # a flood's excess message, waiting for its combined post
    COMBINED = "combined"  # … posted in a combined post


@dataclass(frozen=True, slots=True)
class Ban:
    customer_id: int
    by_id: str
    by_name: str
    reason: str | None
    at: datetime
    until: datetime | None  # None: until /unban


@dataclass(frozen=True, slots=True)
class Held:
    """A flood's excess message waiting for the combined post."""

    event_id: int
    conversation_id: int
    message_id: int
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AbuseStats:
    banned: int  # customers under a ban at some point of the period
    suppressed: int  # their messages kept off the desk
    combined: int  # flood messages posted combined


class AbuseStore(Protocol):
    async def add_ban(self, ban: Ban) -> None:
        """Record a ban, lifting the customer's earlier one."""
        ...
    async def lift_ban(self, customer_id: int, at: datetime) -> bool:
        """End the customer's ban now; False when there was none in force."""
        ...
    async def ban_of(self, customer_id: int, now: datetime) -> Ban | None:
        """The customer's ban in force now."""
        ...
    async def move_bans(self, from_customer: int, to_customer: int) -> None: ...
    async def add_event(self, customer_id: int, conversation_id: int, at: datetime,
                        kind: EventKind, message_id: int | None = None) -> None: ...
    async def add_events(self, customer_id: int, conversation_id: int, at: datetime,
                         kind: EventKind, message_ids: Sequence[int]) -> None:
        """One event per message, in the order of `message_ids` (their ids ascending)."""
        ...
    async def held(self, limit: int) -> list[Held]:
        """Flood messages waiting for their combined post, oldest first."""
        ...
    async def mark_combined(self, event_ids: list[int]) -> None: ...
    async def stats(self, since: datetime, until: datetime) -> AbuseStats: ...


class Close(Protocol):
    """The one close operation (`Conversations.close`)."""

    async def __call__(self, unit: Unit, conversation: Conversation, closure: Closure,
                       notice_html: str) -> None: ...

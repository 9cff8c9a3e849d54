"""What service levels need from storage: deadlines, breaches, titles, history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


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
    department: str | None = None  # core/departments: its team and their group
    desk_chat: str | None = None


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
    department: str | None = None


@dataclass(frozen=True, slots=True)
class TitleWork:
    """A topic whose status emoji should change."""

    conversation_id: int
    topic_id: int
    customer_id: int
    name: str
    channel: str
    want: str
    desk_chat: str | None = None  # a department's group (None: the operator group)


class SlaStore(Protocol):
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
    async def titles_due(self, now: datetime, limit: int) -> list[TitleWork]: ...
    async def title_applied(self, conversation_id: int, mark: str | None) -> None: ...
    async def forget_title(self, conversation_id: int) -> None: ...

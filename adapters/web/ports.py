"""What the web channel needs from storage: each visitor's events, and their uploads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

Event = tuple[int, str, dict[str, Any]]  # (id, kind, body)


class EventKind(StrEnum):
    VISITOR = "visitor"  # the visitor's own message (acknowledged: intake committed it)
    OPERATOR = "operator"  # a person's answer from the topic
    BOT = "bot"  # a bot-authored text (greeting, acknowledgement, self-service answer)
    EDIT = "edit"  # an earlier event's text changed (body: target, text)
    CLOSED = "closed"  # the conversation was closed; the next message opens a new one
    DETAILS = "details"  # the page the visitor writes from, for the card (unseen by the page)


class WebStore(Protocol):
    async def add_event(self, visitor: str, kind: str, body: dict[str, Any],
                        ref: str | None, now: datetime) -> tuple[int, bool]:
        """The event's id, and whether it is new (False: `ref` was stored before)."""
        ...

    async def events_after(self, visitor: str, after: int, limit: int) -> list[Event]: ...
    async def get_event(self, visitor: str, event_id: int) -> Event | None: ...
    async def latest_event(self, visitor: str, kind: str) -> Event | None:
        """The visitor's newest event of that kind."""
        ...
    async def add_file(self, visitor: str, name: str, mime: str, data: bytes,
                       now: datetime) -> int: ...
    async def get_file(self, file_id: int) -> tuple[str, str, str, bytes] | None:
        """(visitor, name, mime, data) of a stored upload."""
        ...

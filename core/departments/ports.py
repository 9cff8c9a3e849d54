"""The departments' store: the routing question each waiting customer was asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Said:
    """One message of a conversation, for the context post of a transfer."""

    kind: str  # core.model.MessageKind
    author: str | None
    text: str  # the text or caption; empty for a file without one
    content_type: str


class DepartmentStore(Protocol):
    async def asked(self, conversation_id: int, at: datetime, held: list[int]) -> None:
        """The customer was asked; `held`: their messages so far."""
        ...

    async def held(self, conversation_id: int) -> list[int] | None:
        """The messages held while the customer chooses (None: not asked, or answered)."""
        ...

    async def hold(self, conversation_id: int, held: list[int]) -> None: ...

    async def answered(self, conversation_id: int) -> list[int] | None:
        """Forget the question: the messages held until now (None: answered already, a
        press repeated or late)."""
        ...

    async def history(self, conversation_id: int, limit: int) -> list[Said]:
        """The conversation's customer and operator messages and notes, oldest first (the
        last `limit`)."""
        ...

    async def unanswered(self, asked_before: datetime, limit: int = 200) -> list[int]:
        """Conversations whose question has waited since before `asked_before`."""
        ...

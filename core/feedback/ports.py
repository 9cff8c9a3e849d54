"""What the survey needs: its store (one survey per conversation), and whether a customer
may be written to at all (a ban of the abuse capability, handed over by the composition
root: capabilities never import each other)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Survey:
    conversation_id: int
    customer_id: int
    channel: str
    operator_id: str | None  # the operator who answered last (the report credits them)
    operator_name: str | None
    language: str | None
    asked_at: datetime
    expires_at: datetime
    rating: int | None = None
    rated_at: datetime | None = None
    comment: str | None = None
    comment_until: datetime | None = None  # a low rating waits this long for a comment


@dataclass(frozen=True, slots=True)
class Tally:
    """Ratings of one group (an operator, a channel, everything) in a period."""

    name: str
    rated: int
    satisfied: int  # rated 4 or 5

    @property
    def percent(self) -> int:
        return round(100 * self.satisfied / self.rated) if self.rated else 0


class SurveyStore(Protocol):
    async def add_survey(self, survey: Survey) -> bool:
        """Record a survey; False when the conversation has had one (at most one each)."""
        ...
    async def survey(self, conversation_id: int) -> Survey | None: ...
    async def rate(self, conversation_id: int, rating: int, at: datetime,
                   comment_until: datetime | None) -> bool:
        """Set the rating once: False when it was rated before."""
        ...
    async def awaiting_comment(self, customer_id: int, now: datetime) -> Survey | None:
        """The customer's survey that waits for a comment now, if any."""
        ...
    async def add_comment(self, conversation_id: int, text: str) -> None: ...
    async def last_answerer(self, conversation_id: int) -> tuple[str, str] | None:
        """(id, name) of the operator whose message to the customer was the last."""
        ...
    async def tallies(self, since: datetime, until: datetime
                      ) -> tuple[Tally, list[Tally], list[Tally]]:
        """Ratings given in the period: overall, per operator, per channel."""
        ...


class Silenced(Protocol):
    """Whether nothing may be sent to the customer now (banned)."""

    async def __call__(self, customer_id: int, now: datetime) -> bool: ...

"""Service levels: targets per channel (and per department), deadlines, and when to acknowledge.

Pure policy: given the config's hours and targets, when is a response due, when to remind,
and what the customer is told. A conversation is measured against its department's levels
when that department has its own, else the service's; within those, its channel's. The
clock runs from a customer message until a human operator answers; notes and bot posts
never stop it. Storage and scheduling live elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from core.sla.hours import WorkingHours


class TargetKind(StrEnum):
    FIRST_RESPONSE = "first_response"  # from the conversation's first customer message
    NEXT_RESPONSE = "next_response"  # from a customer message after an operator's answer
    RESOLUTION = "resolution"  # from opening until the conversation is closed


RESPONSE_KINDS = (TargetKind.FIRST_RESPONSE, TargetKind.NEXT_RESPONSE)


@dataclass(frozen=True, slots=True)
class Targets:
    """How long a channel's customers may wait; None means no target of that kind."""

    first_response: timedelta | None = timedelta(hours=1)
    next_response: timedelta | None = timedelta(hours=1)
    resolution: timedelta | None = None
    business_hours: bool = True  # count only open time (else around the clock)

    def of(self, kind: TargetKind) -> timedelta | None:
        return getattr(self, kind.value)


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """The hours and targets one channel is measured against."""

    hours: WorkingHours
    targets: Targets
    remind_before: timedelta | None = timedelta(minutes=15)

    @property
    def clock(self) -> WorkingHours:
        """The calendar deadlines are counted in."""
        if self.targets.business_hours:
            return self.hours
        return WorkingHours.around_the_clock()

    def due(self, kind: TargetKind, start: datetime) -> datetime | None:
        target = self.targets.of(kind)
        if target is None:
            return None
        return self.clock.add_open_time(start, target)

    def remind_at(self, start: datetime, due: datetime) -> datetime | None:
        """When to remind operators: `remind_before` ahead of the deadline (wall time), or
        never when that moment would be at or before the clock started."""
        if self.remind_before is None:
            return None
        at = due - self.remind_before
        return at if at > start else None


@dataclass(frozen=True, slots=True)
class Deadline:
    """A target the store should chase: its row is keyed (conversation, kind, seq)."""

    kind: TargetKind
    started_at: datetime
    due_at: datetime
    remind_at: datetime | None


@dataclass(frozen=True, slots=True)
class AckSettings:
    enabled: bool = True
    # No acknowledgement when an operator answered this recently: the customer is in a
    # live exchange and a robot's "we'll reply within an hour" would be noise.
    quiet: timedelta = timedelta(minutes=5)
    default_language: str = "en"


@dataclass(frozen=True, slots=True)
class ServiceLevels:
    """A department's own hours and targets: a default and per-channel policies."""

    default: ChannelPolicy
    per_channel: Mapping[str, ChannelPolicy] = field(default_factory=dict)

    def channel(self, name: str) -> ChannelPolicy:
        return self.per_channel.get(name, self.default)


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Everything the SLA code needs from config.yaml's `service` section (and the
    departments' own hours and targets)."""

    default: ChannelPolicy
    per_channel: Mapping[str, ChannelPolicy] = field(default_factory=dict)
    per_department: Mapping[str, ServiceLevels] = field(default_factory=dict)
    ack: AckSettings = AckSettings()
    on_duty: tuple[int, ...] = ()  # mentioned in reminders when nobody is assigned
    admins: tuple[int, ...] = ()  # mentioned in escalations
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # lang → overrides
    timezone_names: Mapping[str, str] = field(default_factory=dict)  # lang → "Moscow time"
    # A topic's status mark changes after its status held still this long (None: never).
    title_debounce: timedelta | None = timedelta(seconds=30)

    def channel(self, name: str, department: str | None = None) -> ChannelPolicy:
        """The policy a conversation on channel `name` in `department` is measured by."""
        own = self.per_department.get(department) if department else None
        if own is not None:
            return own.channel(name)
        return self.per_channel.get(name, self.default)

    def deadlines(self, channel: str, kinds: tuple[TargetKind, ...], start: datetime,
                  department: str | None = None) -> list[Deadline]:
        policy = self.channel(channel, department)
        out = []
        for kind in kinds:
            due = policy.due(kind, start)
            if due is not None:
                out.append(Deadline(kind, start, due, policy.remind_at(start, due)))
        return out

    def should_acknowledge(self, acked_at: datetime | None, answered_at: datetime | None,
                           now: datetime, channel: str, department: str | None = None
                           ) -> bool:
        """At most once per conversation per local day; never right after a human answer."""
        policy = self.channel(channel, department)
        if not self.ack.enabled or policy.targets.first_response is None:
            return False
        if answered_at is not None and now - answered_at < self.ack.quiet:
            return False
        if acked_at is None:
            return True
        zone = policy.hours.zone
        return _local_day(acked_at, zone) != _local_day(now, zone)


def _local_day(at: datetime, zone: object) -> date:
    return at.astimezone(zone).date()  # type: ignore[arg-type]

"""Service-level reports: conversations, first response and resolution times, SLA hit rate,
in total, per channel and per operator. Pure: computed from the store's history rows."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import texts
from core.sla.ack import human_duration
from core.sla.chart import report_chart
from core.sla.ports import ConversationRecord, DeadlineRecord

PERIODS = ("today", "week", "month")


@dataclass(frozen=True, slots=True)
class Stats:
    conversations: int = 0
    first_response_median: timedelta | None = None
    first_response_p90: timedelta | None = None
    resolution_median: timedelta | None = None
    met: int = 0
    decided: int = 0  # targets that were answered or missed (running ones are not counted)

    @property
    def hit_rate(self) -> float | None:
        return self.met / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class Report:
    period: str
    since: datetime
    until: datetime
    total: Stats
    per_channel: dict[str, Stats] = field(default_factory=dict)
    per_operator: dict[str, Stats] = field(default_factory=dict)
    first_response_by_hour: dict[int, timedelta] = field(default_factory=dict)  # local hour


def period_bounds(period: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """today: since local midnight; week: the last 7 days; month: the last 30 days."""
    if period == "today":
        local = now.astimezone(zone)
        return datetime.combine(local.date(), time(0), zone), now
    days = 7 if period == "week" else 30
    return now - timedelta(days=days), now


def percentile(values: Sequence[timedelta], share: float) -> timedelta | None:
    """Nearest-rank percentile (p90 of 10 values is the 9th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def _stats(conversations: Iterable[ConversationRecord], deadlines: Iterable[DeadlineRecord]
           ) -> Stats:
    convs = list(conversations)
    first = [c.first_response_at - c.opened_at for c in convs if c.first_response_at]
    resolved = [c.closed_at - c.opened_at for c in convs if c.closed_at]
    met = decided = 0
    for d in deadlines:
        if d.breached or (d.stopped_at is not None and d.stopped_at > d.due_at):
            decided += 1
        elif d.stopped_at is not None:
            decided += 1
            met += 1
    return Stats(len(convs), _median(first), percentile(first, 0.9), _median(resolved), met,
                 decided)


def compute(period: str, since: datetime, until: datetime,
            conversations: Sequence[ConversationRecord], deadlines: Sequence[DeadlineRecord],
            zone: ZoneInfo) -> Report:
    owner = {c.id: c.assignee_id for c in conversations}

    def operator_of(d: DeadlineRecord) -> str | None:
        return d.stopped_by or owner.get(d.conversation_id)

    channels = sorted({c.channel for c in conversations} | {d.channel for d in deadlines})
    operators = sorted({o for o in [*owner.values(), *map(operator_of, deadlines)] if o})
    by_hour: dict[int, list[timedelta]] = defaultdict(list)
    for c in conversations:
        if c.first_response_at:
            by_hour[c.opened_at.astimezone(zone).hour].append(c.first_response_at - c.opened_at)
    return Report(
        period, since, until, _stats(conversations, deadlines),
        {ch: _stats([c for c in conversations if c.channel == ch],
                    [d for d in deadlines if d.channel == ch]) for ch in channels},
        {op: _stats([c for c in conversations if c.assignee_id == op],
                    [d for d in deadlines if operator_of(d) == op]) for op in operators},
        {h: v for h, v in ((h, _median(vs)) for h, vs in sorted(by_hour.items())) if v},
    )


def _dur(value: timedelta | None) -> str:
    return human_duration(value, "en") if value is not None else "—"


def _rate(stats: Stats) -> str:
    rate = stats.hit_rate
    return f"{rate:.0%} ({stats.met}/{stats.decided})" if rate is not None else "—"


def render(report: Report, zone: ZoneInfo, names: Mapping[str, str]) -> str:
    """The report as an HTML post for the General topic."""
    def row(label: str, s: Stats) -> dict[str, str]:
        return {"label": label, "n": str(s.conversations), "fr": _dur(s.first_response_median),
                "hit": _rate(s)}

    t = report.total
    return texts.render(
        "sla_report", period=report.period,
        since=report.since.astimezone(zone).strftime("%d.%m.%Y %H:%M"),
        until=report.until.astimezone(zone).strftime("%d.%m.%Y %H:%M %Z"),
        conversations=t.conversations, fr_median=_dur(t.first_response_median),
        fr_p90=_dur(t.first_response_p90), resolution=_dur(t.resolution_median),
        hit=_rate(t),
        channels=[row(texts.channel_label(ch), s) for ch, s in report.per_channel.items()],
        operators=[row(names.get(op, op), s) for op, s in report.per_operator.items()],
    )


def chart(report: Report, names: Mapping[str, str]) -> bytes:
    """The report's PNG: first response by hour, hit rate per channel and per operator."""
    def rates(stats: Mapping[str, Stats], label: Callable[[str], str]) -> dict[str, float]:
        return {label(k): s.hit_rate for k, s in stats.items() if s.hit_rate is not None}

    return report_chart(report.first_response_by_hour,
                        rates(report.per_channel, texts.channel_label),
                        rates(report.per_operator, lambda op: _ascii(names.get(op, op))))


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "?" for c in name.upper()) or "?"

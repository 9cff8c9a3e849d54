"""Working hours: when a human is expected to answer, and deadlines counted in open time.

Service levels (`core/sla/policy.py`) count their deadlines in these hours:
`add_open_time(start, 1h)` is "one business hour after start", across weekends, holidays,
time zones and DST changes. Pure: stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_SEARCH_DAYS = 800  # a schedule with no open time at all is reported, not looped on

Interval = tuple[time, time | None]  # None as the end means midnight at the end of the day


class HoursError(ValueError):
    """A working-hours spec that can't be understood; the message says what is wrong."""


def _parse_days(key: str) -> list[int]:
    days: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            if first not in DAYS or last not in DAYS:
                raise HoursError(f"{key!r}: days are {', '.join(DAYS)} (e.g. mon-fri)")
            i, j = DAYS.index(first), DAYS.index(last)
            days += list(range(i, j + 1)) if i <= j else [*range(i, 7), *range(0, j + 1)]
        elif part in DAYS:
            days.append(DAYS.index(part))
        else:
            raise HoursError(f"{key!r}: days are {', '.join(DAYS)} (e.g. mon-fri)")
    return days


def _parse_ranges(value: str) -> list[Interval]:
    if value.strip().lower() in ("closed", "off", ""):
        return []
    out: list[Interval] = []
    for part in value.split(","):
        match = _RANGE.match(part)
        if not match:
            raise HoursError(f"{value!r}: write ranges like 09:00-18:00 (or 'closed')")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise HoursError(f"{part.strip()!r}: not a time of day")
        start, end = time(h1, m1), None if h2 == 24 else time(h2, m2)
        if end is not None and end <= start:
            raise HoursError(f"{part.strip()!r}: a range ends after it starts (use 24:00 for "
                             "midnight; split overnight shifts across two days)")
        out.append((start, end))
    out.sort(key=lambda r: r[0])
    for (_, end), (nxt, _) in zip(out, out[1:], strict=False):
        if end is None or end > nxt:
            raise HoursError(f"{value!r}: ranges overlap")
    return out


@dataclass(frozen=True)
class WorkingHours:
    zone: ZoneInfo
    week: Mapping[int, tuple[Interval, ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, timezone: str, hours: Mapping[str, str],
              holidays: Iterable[date | str] = ()) -> WorkingHours:
        """From config values: `{"mon-fri": "09:00-18:00", "sat": "10:00-14:00"}`."""
        try:
            zone = ZoneInfo(timezone)
        except Exception as exc:
            raise HoursError(f"{timezone!r}: not a known time zone (e.g. Europe/Moscow)") from exc
        week: dict[int, tuple[Interval, ...]] = {}
        for key, value in hours.items():
            for day in _parse_days(key):
                if day in week:
                    raise HoursError(f"{key!r}: {DAYS[day]} is listed twice")
                week[day] = tuple(_parse_ranges(value))
        days_off = frozenset(d if isinstance(d, date) else date.fromisoformat(d)
                             for d in holidays)
        return cls(zone, week, days_off)

    @classmethod
    def around_the_clock(cls) -> WorkingHours:
        return cls(ZoneInfo("UTC"), {d: ((time(0), None),) for d in range(7)})

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of a local calendar day, as aware UTC datetimes."""
        if day in self.holidays:
            return []
        out = []
        for start, end in self.week.get(day.weekday(), ()):
            begin = datetime.combine(day, start, self.zone).astimezone(UTC)
            if end is None:
                finish = datetime.combine(day + timedelta(days=1), time(0), self.zone)
            else:
                finish = datetime.combine(day, end, self.zone)
            finish_utc = finish.astimezone(UTC)
            if finish_utc > begin:  # a range swallowed by a DST gap has no length
                out.append((begin, finish_utc))
        return out

    def _walk(self, start: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Open intervals from `start` on, clipped to begin no earlier than `start`."""
        if start.tzinfo is None:
            raise ValueError("working hours need an aware datetime")
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            for begin, end in self._intervals(day):
                if end > start:
                    yield max(begin, start), end
            day += timedelta(days=1)
        raise HoursError("no working time in the next two years: check hours and holidays")

    def is_open(self, at: datetime) -> bool:
        begin, _ = next(iter(self._walk(at)))
        return begin == at

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when open, else when the desk opens next."""
        begin, _ = next(iter(self._walk(at)))
        return begin

    def add_open_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of open time has passed after `start` (a deadline)."""
        remaining = duration
        for begin, end in self._walk(start):
            if remaining <= end - begin:
                return begin + remaining
            remaining -= end - begin
        raise AssertionError("unreachable")

    def open_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much open time lies between two instants (for reports)."""
        total = timedelta(0)
        if end <= start:
            return total
        for begin, finish in self._walk(start):
            if begin >= end:
                break
            total += min(finish, end) - begin
        return total

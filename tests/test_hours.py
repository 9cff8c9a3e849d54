"""Working-hours arithmetic: weekends, holidays, time zones and DST, with no sleeping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.sla.hours import HoursError, WorkingHours

MSK = WorkingHours.parse("Europe/Moscow", {"mon-fri": "09:00-18:00", "sat": "10:00-14:00"},
                         holidays=["2026-12-31"])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_inside_hours_a_deadline_is_plain_addition() -> None:
    # Thu 26 Nov 2026 12:00 MSK = 09:00 UTC
    assert MSK.add_open_time(utc(2026, 11, 26, 9), timedelta(hours=1)) == utc(2026, 11, 26, 10)
    assert MSK.is_open(utc(2026, 11, 26, 9))


def test_friday_evening_rolls_over_to_saturday_then_monday() -> None:
    # Fri 17:30 MSK + 1h: 30 min on Friday, 30 min from Saturday 10:00 MSK (07:00 UTC)
    assert MSK.add_open_time(utc(2026, 11, 27, 14, 30), timedelta(hours=1)) == \
        utc(2026, 11, 28, 7, 30)
    # Sat 13:00 MSK + 2h: 1h on Saturday, 1h from Monday 09:00 MSK
    assert MSK.add_open_time(utc(2026, 11, 28, 10), timedelta(hours=2)) == \
        utc(2026, 11, 30, 7)
    assert not MSK.is_open(utc(2026, 11, 29, 10))  # Sunday
    assert MSK.next_open(utc(2026, 11, 29, 10)) == utc(2026, 11, 30, 6)


def test_holidays_are_skipped() -> None:
    # Wed 30 Dec 17:00 MSK + 2h: 1h that day, 31 Dec is a holiday, Fri 1 Jan 09:00 + 1h
    assert MSK.add_open_time(utc(2026, 12, 30, 14), timedelta(hours=2)) == utc(2027, 1, 1, 7)


def test_dst_spring_forward_and_fall_back() -> None:
    berlin = WorkingHours.parse("Europe/Berlin", {"mon-sun": "00:00-24:00"})
    # 29 Mar 2026 has 23 hours in Berlin: open time counts real hours, not wall hours
    start = datetime(2026, 3, 29, 0, 0, tzinfo=berlin.zone).astimezone(UTC)
    assert berlin.open_time_between(start, start + timedelta(days=1)) == timedelta(days=1)
    ny = WorkingHours.parse("America/New_York", {"sun": "00:00-24:00"})
    day_start = datetime(2026, 11, 1, tzinfo=ny.zone)
    day_end = datetime(2026, 11, 2, tzinfo=ny.zone)
    assert ny.open_time_between(day_start, day_end) == timedelta(hours=25)  # fall back
    # 09:00 local is 13:00 UTC before the change and 14:00 UTC after it
    office = WorkingHours.parse("America/New_York", {"mon-fri": "09:00-17:00"})
    assert office.next_open(utc(2026, 10, 31, 12)) == utc(2026, 11, 2, 14)
    assert office.next_open(utc(2026, 10, 30, 12)) == utc(2026, 10, 30, 13)


def test_around_the_clock_and_business_time_between() -> None:
    always = WorkingHours.around_the_clock()
    assert always.add_open_time(utc(2026, 11, 28, 23), timedelta(hours=2)) == \
        utc(2026, 11, 29, 1)
    # Fri 17:00 MSK → Mon 10:00 MSK: 1h Fri + 4h Sat + 1h Mon
    assert MSK.open_time_between(utc(2026, 11, 27, 14), utc(2026, 11, 30, 7)) == \
        timedelta(hours=6)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"monday": "09:00-18:00"}, "days are"),
        ({"mon": "9-18"}, "ranges like"),
        ({"mon": "18:00-09:00"}, "ends after it starts"),
        ({"mon": "09:00-13:00,12:00-18:00"}, "overlap"),
        ({"mon-fri": "09:00-18:00", "fri": "10:00-11:00"}, "listed twice"),
    ],
)
def test_bad_specs_are_explained(hours: dict[str, str], message: str) -> None:
    with pytest.raises(HoursError, match=message):
        WorkingHours.parse("Europe/Moscow", hours)


def test_unknown_zone_and_empty_schedule() -> None:
    with pytest.raises(HoursError, match="time zone"):
        WorkingHours.parse("Mars/Olympus", {})
    closed = WorkingHours.parse("UTC", {"mon-sun": "closed"})
    with pytest.raises(HoursError, match="no working time"):
        closed.next_open(utc(2026, 1, 1))
    assert date(2026, 12, 31) in MSK.holidays

"""Human-written durations in the config: parsing, errors, and printing them back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bots.config import parse_duration
from bots.durations import DurationError, format_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m 5s", timedelta(hours=1, minutes=30, seconds=5)),
        ("1.5h", timedelta(minutes=90)),
        ("2 minutes", timedelta(minutes=2)),
        ("10S", timedelta(seconds=10)),
        ("0s", timedelta(0)),
        ("90", timedelta(seconds=90)),
        ("0.25", timedelta(milliseconds=250)),
        (45, timedelta(seconds=45)),
        (1.5, timedelta(seconds=1.5)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_parse_duration(text: str | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "a duration cannot be empty"),
        ("   ", "a duration cannot be empty"),
        ("soon", "not a duration: 'soon'"),
        ("10x", "not a duration: '10x'"),
        ("1h30", "not a duration: '1h30'"),
        ("s", "not a duration: 's'"),
        ("-5s", "a duration cannot be negative: '-5s'"),
        (-1, "a duration cannot be negative: -1"),
        ("30m1h", "write units from largest to smallest"),
        ("1m1m", "write units from largest to smallest"),
        (True, "expected a duration, got true/false"),
        (float("nan"), "not a duration: nan"),
        (10**30, "duration is too large"),
    ],
)
def test_parse_duration_errors(text: object, reason: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)  # type: ignore[arg-type]
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).endswith("(use a number with a unit: 30s, 15m, 1h, 1d)")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2, seconds=5), "2d5s"),
    ],
)
def test_format_duration_round_trips(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value

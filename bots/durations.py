"""Human-written durations in the config: ``500ms``, ``30s``, ``15m``, ``1h30m``, ``90``."""

from __future__ import annotations

import math
import re
from datetime import timedelta

DURATION_HINT = "use a number with a unit: 30s, 15m, 1h, 1d"

# Longest spellings first so that "ms" is not read as "m" followed by junk.
_UNIT_SECONDS: dict[str, float] = {
    "milliseconds": 0.001,
    "millisecond": 0.001,
    "ms": 0.001,
    "seconds": 1,
    "second": 1,
    "secs": 1,
    "sec": 1,
    "s": 1,
    "minutes": 60,
    "minute": 60,
    "mins": 60,
    "min": 60,
    "m": 60,
    "hours": 3600,
    "hour": 3600,
    "hrs": 3600,
    "hr": 3600,
    "h": 3600,
    "days": 86400,
    "day": 86400,
    "d": 86400,
}
_UNITS_ALTERNATION = "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True))
_PART = re.compile(rf"(\d+(?:\.\d+)?|\.\d+)\s*({_UNITS_ALTERNATION})\s*")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")


class DurationError(ValueError):
    """A value that is not a duration; ``reason`` is the message without the usage hint."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} ({DURATION_HINT})")
        self.reason = reason


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Turn ``"1h30m"``, ``"500ms"`` or a plain number of seconds into a timedelta.

    Units go from largest to smallest, each at most once, so a typo like ``"30m1h"`` is an
    error rather than a silent sum. Negative durations are refused.
    """
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise DurationError("a duration cannot be negative")
        return value
    if isinstance(value, bool):
        raise DurationError("expected a duration, got true/false")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise DurationError(f"duration is too large: {value!r}") from None
        return _from_seconds(seconds, repr(value))
    if not isinstance(value, str):
        raise DurationError(f"expected a duration, got {type(value).__name__}")

    text = value.strip().lower()
    if not text:
        raise DurationError("a duration cannot be empty")
    if text.startswith("-"):
        raise DurationError(f"a duration cannot be negative: {value!r}")
    if _PLAIN_NUMBER.fullmatch(text):
        return _from_seconds(float(text), repr(value))

    total = 0.0
    position = 0
    previous_unit_seconds = math.inf
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        number, unit = match.groups()
        unit_seconds = _UNIT_SECONDS[unit]
        if unit_seconds >= previous_unit_seconds:
            raise DurationError(
                f"{value!r}: write units from largest to smallest, each once (e.g. 1h30m)"
            )
        previous_unit_seconds = unit_seconds
        total += float(number) * unit_seconds
        position = match.end()
    if position != len(text) or position == 0:
        raise DurationError(f"not a duration: {value!r}")
    return _from_seconds(total, repr(value))


def format_duration(value: timedelta) -> str:
    """Render a timedelta the way a config would spell it: ``1h30m``, ``500ms``, ``0s``."""
    millis = round(value.total_seconds() * 1000)
    if millis == 0:
        return "0s"
    sign = "-" if millis < 0 else ""
    millis = abs(millis)
    seconds, ms = divmod(millis, 1000)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    if ms:
        parts.append(f"{ms}ms")
    return sign + "".join(parts)


def _from_seconds(seconds: float, shown: str) -> timedelta:
    if math.isnan(seconds) or math.isinf(seconds):
        raise DurationError(f"not a duration: {shown}")
    if seconds < 0:
        raise DurationError(f"a duration cannot be negative: {shown}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationError(f"duration is too large: {shown}") from None

"""What every config section shares: the ``Section`` base, strict field types (whole
numbers that refuse true/false, Telegram user ids, human-written durations), a rate limit
and the check of a platform's API server address.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import SplitResult, urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from bots.config_errors import issue, kind_of
from bots.config_secrets import echo
from bots.durations import DURATION_HINT, DurationError, parse_duration


def reject_bool(value: object) -> object:
    # pydantic's lax mode would quietly read `true` as 1.
    if isinstance(value, bool):
        raise issue("expected a whole number, got true/false")
    return value


def to_duration(value: object) -> object:
    """A duration field's value (``500ms``, ``15m``, ``1h30m``, seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str | int | float):
        raise issue(f"expected a duration, got {kind_of(value)}", DURATION_HINT)
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise issue(exc.reason, DURATION_HINT) from None


def _check_user_id(value: int) -> int:
    if value <= 0:
        raise issue(f"must be a user id (a positive number), got {value}")
    return value


Int = Annotated[int, BeforeValidator(reject_bool)]
UserId = Annotated[int, BeforeValidator(reject_bool), AfterValidator(_check_user_id)]
Duration = Annotated[timedelta, BeforeValidator(to_duration)]


class Section(BaseModel):
    """A config section: unknown keys are refused, and the loaded values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(Section):
    """At most ``count`` requests per ``per`` window."""

    count: Annotated[int, BeforeValidator(reject_bool), Field(gt=0)]
    per: Duration = Field(gt=timedelta(0))


def api_server_url(value: str, section: str, hint: str | None = None) -> tuple[str, SplitResult]:
    """`<section>.api_server` without a trailing slash, and its parts: an http(s) URL."""
    server = value.strip().rstrip("/")
    parts = urlsplit(server)
    if parts.scheme not in {"http", "https"} or not parts.hostname:  # "https://u:p@/x": none
        raise issue(f"must be an http:// or https:// URL, got "
                    f"{echo((section, 'api_server'), value)}", hint)
    return server, parts

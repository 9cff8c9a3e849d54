"""MAX Bot API failures and their translation into the core's delivery outcomes.

MAX answers errors with an HTTP status and ``{"code": "dotted.key", "message": …}``; the
transport raises `MaxApiError` for those and `MaxNetworkError` when no usable answer came.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.errors import (
    DeliveryError,
    PermanentError,
    RecipientUnreachable,
    RetryAfter,
    TransientError,
)

T = TypeVar("T")

BAD_TOKEN = "verify.token"
NOT_READY = "attachment.not.ready"
CHAT_DENIED = "chat.denied"  # the user stopped the bot (or the bot is not moderated yet)
TOO_MANY_REQUESTS = "too.many.requests"
# MAX sends no Retry-After: one window of its 30 requests/s is our own choice.
PAUSE_ON_429 = 1.0


class MaxApiError(Exception):
    """MAX answered a non-200 status with its error body."""

    def __init__(self, status: int, code: str, message: str, route: str = "") -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({route})" if route else ""))
        self.status = status
        self.code = code
        self.message = message
        self.route = route


class MaxNetworkError(Exception):
    """No usable answer: connection refused or cut, timeout, not JSON. `unsent` when the
    request certainly never reached MAX."""

    def __init__(self, route: str, detail: str, *, unsent: bool = False) -> None:
        super().__init__(f"{route}: {detail}")
        self.route = route
        self.detail = detail
        self.unsent = unsent


def to_outcome(exc: BaseException, bucket: str | None = None) -> DeliveryError:
    """The core outcome for a MAX failure; `bucket` is the rate key a 429 pauses."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, MaxApiError):
        if exc.status == 429:
            return RetryAfter(PAUSE_ON_429, bucket, str(exc))
        if exc.status == 403 and exc.code in (CHAT_DENIED, "access.denied"):
            return RecipientUnreachable(str(exc))
        if exc.status == 404 and exc.code == "chat.not.found":
            return RecipientUnreachable(str(exc))
        if exc.status in (400, 404) and exc.code != NOT_READY:
            return PermanentError(str(exc))
        # 401 (the token was revoked), 5xx, a file still not processed: keep it queued; the
        # outbox backs off and tells operators after its max attempts.
        return TransientError(str(exc))
    if isinstance(exc, MaxNetworkError | TimeoutError | OSError):
        return TransientError(str(exc) or type(exc).__name__)
    return TransientError(f"{type(exc).__name__}: {exc}")


async def call(fn: Callable[[], Awaitable[T]], *, bucket: str | None = None) -> T:
    """Run MAX calls and translate their failure into a core outcome."""
    try:
        return await fn()
    except (MaxApiError, MaxNetworkError, TimeoutError, OSError) as exc:
        raise to_outcome(exc, bucket) from exc

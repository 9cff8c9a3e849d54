"""VK API failures and their translation into the core's delivery outcomes.

VK answers every call with HTTP 200 and either ``{"response": …}`` or
``{"error": {"error_code", "error_msg", "request_params"}}``; the transport raises
`VkApiError` for the latter and `VkNetworkError` when no usable answer came back at all.
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

# VK error codes the adapter cares about (https://dev.vk.com/ru/reference/errors).
BAD_TOKEN = 5
TOO_MANY_REQUESTS = 6
FLOOD_CONTROL = 9
INTERNAL = 10
RATE_LIMIT_REACHED = 29  # groups.getLongPollServer called too often
BAD_PARAM = 100
USER_DELETED = 18
BLACKLISTED = 900
NO_PERMISSION = 901
PRIVACY = 902
BAD_KEYBOARD = 911
TOO_LONG = 914

# VK publishes no retry_after: these pauses are our own choice. Error 6 is the per-second
# token budget (one window is enough); flood control (9) is VK's anti-spam and lasts longer.
PAUSES = {TOO_MANY_REQUESTS: 1.0, FLOOD_CONTROL: 10.0, RATE_LIMIT_REACHED: 60.0}
UNREACHABLE = frozenset({BLACKLISTED, NO_PERMISSION, PRIVACY, USER_DELETED})
# Requests VK refused for good: retrying the same call cannot succeed.
PERMANENT = frozenset({BAD_PARAM, BAD_KEYBOARD, TOO_LONG, 15, 113, 912, 913, 917, 921, 936})


class VkApiError(Exception):
    """VK answered ``{"error": …}``."""

    def __init__(self, code: int, msg: str, method: str = "") -> None:
        super().__init__(f"[{code}] {msg}" + (f" ({method})" if method else ""))
        self.code = code
        self.msg = msg
        self.method = method


class VkNetworkError(Exception):
    """No usable answer: connection refused or cut, timeout, non-200 status, not JSON.

    `unsent` is True when the request certainly never reached VK (connecting failed), so
    even a non-idempotent call may be repeated; `status` is the HTTP status of a non-200
    answer.
    """

    def __init__(self, method: str, detail: str, *, unsent: bool = False,
                 status: int | None = None) -> None:
        super().__init__(f"{method}: {detail}")
        self.method = method
        self.detail = detail
        self.unsent = unsent
        self.status = status


class VkUploadError(Exception):
    """An upload server refused the file (bad image, empty body, unknown slot)."""


def to_outcome(exc: BaseException, bucket: str | None = None) -> DeliveryError:
    """The core outcome for a VK failure; `bucket` is the rate key a pause applies to
    (the token's, see `VkApi.rate`)."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, VkApiError):
        if exc.code in PAUSES:
            return RetryAfter(PAUSES[exc.code], bucket, str(exc))
        if exc.code in UNREACHABLE:
            return RecipientUnreachable(str(exc))
        if exc.code in PERMANENT:
            return PermanentError(str(exc))
        # 5 (bad token), 10 (internal), 1 (unknown) and anything new: keep the delivery
        # queued; the outbox backs off and tells operators after its max attempts.
        return TransientError(str(exc))
    if isinstance(exc, VkUploadError):
        return PermanentError(str(exc))
    if isinstance(exc, VkNetworkError | TimeoutError | OSError):
        return TransientError(str(exc) or type(exc).__name__)
    return TransientError(f"{type(exc).__name__}: {exc}")


async def call(fn: Callable[[], Awaitable[T]], *, bucket: str | None = None) -> T:
    """Run VK calls and translate their failure into a core outcome."""
    try:
        return await fn()
    except (VkApiError, VkNetworkError, VkUploadError, TimeoutError, OSError) as exc:
        raise to_outcome(exc, bucket) from exc

"""Errors raised by the emulator.

``ApiError`` becomes a Bot API error answer (``{"ok": false, ...}``) with the HTTP status equal
to ``error_code``, exactly like Telegram. ``ControlError`` is raised by the test-facing control
API when a test asks for something a real human could not do (e.g. post into a topic that does
not exist) -- failing loudly there keeps scenario tests honest.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class ControlError(Exception):
    """A control-API call that no real user/admin could perform."""


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    return ApiError(403, f"Forbidden: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


UNAUTHORIZED = ApiError(401, "Unauthorized")
NOT_FOUND = ApiError(404, "Not Found")

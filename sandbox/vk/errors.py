"""Errors raised by the VK emulator.

``VkApiError`` becomes a VK error answer: HTTP 200 with
``{"error": {"error_code", "error_msg", "request_params"}}``. ``ControlError`` is raised by the
test-facing control API when a test asks for something no real user or admin could do.
"""

from __future__ import annotations

from typing import Any

# Texts as VK answers them (the part before any ": detail").
MESSAGES = {
    1: "Unknown error occurred",
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token",
    6: "Too many requests per second",
    8: "Invalid request: v (version) is required",
    9: "Flood control",
    10: "Internal server error",
    15: "Access denied",
    29: "Rate limit reached",
    100: "One of the parameters specified was missing or invalid",
    113: "Invalid user id",
    900: "Can't send messages for users from blacklist",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    909: "Can't edit this message, because it's too old",
    911: "Keyboard format is invalid",
    912: "This is a chat bot feature, change this status in settings",
    914: "Message is too long",
    920: "Can't edit this kind of message",
}


class VkApiError(Exception):
    def __init__(self, error_code: int, error_msg: str | None = None) -> None:
        msg = error_msg if error_msg is not None else MESSAGES.get(error_code, MESSAGES[1])
        super().__init__(msg)
        self.error_code = error_code
        self.error_msg = msg

    def payload(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        """The answer body; request_params echo the call like VK does (minus the token)."""
        echo = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
        echo += [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
        return {
            "error": {
                "error_code": self.error_code,
                "error_msg": self.error_msg,
                "request_params": echo,
            }
        }


class ControlError(Exception):
    """A control-API call that no real user/admin could perform."""


def param_error(reason: str) -> VkApiError:
    return VkApiError(100, f"{MESSAGES[100]}: {reason}")


def keyboard_error(reason: str) -> VkApiError:
    return VkApiError(911, f"{MESSAGES[911]}: {reason}")

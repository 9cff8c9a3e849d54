"""Bot keyboard validation (``keyboard`` of messages.send / messages.edit) -> error 911."""

from __future__ import annotations

import json
from typing import Any

from .errors import VkApiError, keyboard_error

STANDARD_MAX = (10, 5, 40)  # rows, buttons per row, buttons in total
INLINE_MAX = (6, 5, 10)
ACTIONS = frozenset({"text", "open_link", "location", "vkpay", "open_app", "callback"})
COLORS = frozenset({"primary", "secondary", "negative", "positive"})
LABELLED = frozenset({"text", "open_link", "open_app", "callback"})
MAX_LABEL = 40
MAX_PAYLOAD = 255


def parse_keyboard(raw: str, *, bot_capabilities: bool = True) -> dict[str, Any]:
    try:
        board = json.loads(raw)
    except ValueError:
        raise keyboard_error("not a valid JSON") from None
    if not isinstance(board, dict):
        raise keyboard_error("keyboard is not an object")
    rows = board.get("buttons")
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise keyboard_error("buttons: is not array of arrays")
    for flag in ("one_time", "inline"):
        if flag in board and not isinstance(board[flag], bool):
            raise keyboard_error(f"{flag}: is not a boolean")
    inline = bool(board.get("inline", False))
    max_rows, max_width, max_total = INLINE_MAX if inline else STANDARD_MAX
    if len(rows) > max_rows:
        raise keyboard_error(f"buttons: max rows count is {max_rows}")
    if any(len(row) > max_width for row in rows):
        raise keyboard_error(f"buttons: max buttons in a row is {max_width}")
    if sum(len(row) for row in rows) > max_total:
        raise keyboard_error(f"buttons: max buttons count is {max_total}")
    for row in rows:
        for button in row:
            _check_button(button, bot_capabilities)
    return board


def _check_button(button: Any, bot_capabilities: bool) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("action"), dict):
        raise keyboard_error("button: action is required")
    action = button["action"]
    kind = action.get("type")
    if kind not in ACTIONS:
        raise keyboard_error(f"action.type: unknown type {kind!r}")
    if kind in LABELLED:
        label = action.get("label")
        if not isinstance(label, str) or not label or len(label) > MAX_LABEL:
            raise keyboard_error(f"action.label: must be 1..{MAX_LABEL} characters")
    if kind == "open_link" and not isinstance(action.get("link"), str):
        raise keyboard_error("action.link: is required")
    payload = action.get("payload")
    if payload is not None and (not isinstance(payload, str) or len(payload) > MAX_PAYLOAD):
        raise keyboard_error(f"action.payload: must be a JSON string up to {MAX_PAYLOAD}")
    color = button.get("color")
    if color is not None and (kind not in ("text", "callback") or color not in COLORS):
        raise keyboard_error(f"color: {color!r} is not allowed here")
    if kind == "callback" and not bot_capabilities:
        raise VkApiError(912)

"""Buttons under the bot's messages to a MAX customer (an inline keyboard of callback
buttons), and reading a press back (`message_callback`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.model import Choice

LABEL_LIMIT = 128  # characters of a button's text
PER_ROW, ROWS, BUTTONS = 7, 30, 210  # MAX's limits for callback buttons


def keyboard(choices: Sequence[Sequence[Choice]]) -> dict[str, Any] | None:
    """The inline keyboard attachment for `choices` (rows of buttons), or None; a row longer
    than MAX allows wraps onto the next one, buttons past the limits are left out."""
    rows: list[list[dict[str, Any]]] = []
    placed = 0
    for row in choices:
        for start in range(0, len(row), PER_ROW):
            chunk = [c for c in row[start:start + PER_ROW]][: BUTTONS - placed]
            if chunk and len(rows) < ROWS:
                rows.append([{"type": "callback", "text": c.label[:LABEL_LIMIT] or "·",
                              "payload": c.payload} for c in chunk])
                placed += len(chunk)
    if not rows:
        return None
    return {"type": "inline_keyboard", "payload": {"buttons": rows}}

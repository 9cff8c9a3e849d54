"""Buttons under the community's messages to a customer (VK inline keyboards, built with
vk_api's `VkKeyboard`), and reading a press back.

Callback buttons need "bot capabilities" on in the community settings; a press arrives as a
`message_event`. A client that cannot show callback buttons sends a text button's label as a
message with the payload: both carry `{"p": <payload>}`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vk_api.keyboard import VkKeyboard, VkKeyboardColor

from core.model import Choice

LABEL_LIMIT = 40  # VK refuses longer button labels (error 911)
INLINE_ROWS, INLINE_BUTTONS = 6, 10  # an inline keyboard's rows, and buttons in all


def keyboard(choices: Sequence[Sequence[Choice]]) -> str | None:
    """The inline keyboard for `choices` (rows of buttons), or None for none; the first
    button is coloured as the positive answer. Buttons past VK's limits are left out."""
    rows = [row for row in choices if row][:INLINE_ROWS]
    if not rows:
        return None
    board, placed = VkKeyboard(inline=True), 0
    for index, row in enumerate(rows):
        if index:
            board.add_line()
        for choice in row:
            if placed == INLINE_BUTTONS:
                break
            color = VkKeyboardColor.POSITIVE if placed == 0 else VkKeyboardColor.SECONDARY
            board.add_callback_button(choice.label[:LABEL_LIMIT], color=color,
                                      payload={"p": choice.payload})
            placed += 1
    return str(board.get_keyboard())


def press_payload(raw: Any) -> str | None:
    """The payload of one of our buttons from a `message_event` or a message's `payload`
    (a JSON string or an object); None for anything else (e.g. the Start button)."""
    data = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except ValueError:
            return None
    if isinstance(data, dict) and isinstance(data.get("p"), str):
        return str(data["p"])
    return None

"""Telegram's length limits, and captions over the bot's.

Lengths are measured in UTF-16 code units. The Bot API documents "1-4096 characters" (text)
and "0-1024 characters" (caption) without saying which characters; entity offsets are UTF-16,
and reports disagree on whether the length limit is too (one measurement says code points).
UTF-16 units are never fewer than code points, so counting them is safe under either reading:
an emoji-heavy text is split a little earlier than strictly needed, never refused.

A Telegram Premium user may caption a file with up to 2048 characters, twice a bot's limit.
Telegram copies such a message only as it is (see `sender.needs_cut`); a copy that must
change carries the caption cut at the limit ("…" at the cut) and the rest follows as text
that starts with "…", replying to the file.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import MessageEntity

from core.model import Content

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MARK = "…"  # one UTF-16 unit
# Entities that mean something only whole: a half of a link or a mention would point
# elsewhere, so a cut drops them (the text stays). Formatting is clipped to each part.
_WHOLE = frozenset({
    "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
    "custom_emoji",
})
_TAG = re.compile(r"<[^>]*>")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf16_prefix(text: str, units: int) -> int:
    """The length (in code points) of the longest prefix of `text` within `units` UTF-16
    code units; never splits a surrogate pair."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return index
    return len(text)


def html_len(markup: str) -> int:
    """The length Telegram gives a caption we wrote as HTML: its text without the tags."""
    return utf16_len(html.unescape(_TAG.sub("", markup)))


def over_limit(content: Content) -> bool:
    """A caption longer than a bot may send (a Premium user's)."""
    return bool(content.data.get("has_caption")) and utf16_len(content.text) > CAPTION_LIMIT


def refused(exc: TelegramBadRequest) -> bool:
    """Telegram's answer to a caption over the limit: "message caption is too long" from the
    Bot API, MEDIA_CAPTION_TOO_LONG from MTProto."""
    text = exc.message.lower()
    return "caption is too long" in text or "media_caption_too_long" in text


@dataclass(frozen=True, slots=True)
class Part:
    """One message's worth of a long caption."""

    text: str
    entities: list[MessageEntity] | None


def cut(text: str, entities: Sequence[dict[str, Any]], *, strict: bool = False
        ) -> tuple[Part, list[Part]]:
    """The caption for the file (at most CAPTION_LIMIT) and the continuation texts.

    `strict` measures in UTF-8 bytes, which no reading of "characters" exceeds: for a
    caption Telegram refused although our own count found it short enough.
    """
    cost: Callable[[str], int] = (lambda c: len(c.encode())) if strict else \
        (lambda c: 2 if ord(c) > 0xFFFF else 1)
    mark = sum(cost(c) for c in MARK)
    spans = _spans(text, CAPTION_LIMIT - mark, TEXT_LIMIT - mark, cost)
    parts = []
    for index, (start, end) in enumerate(spans):
        lead = MARK if index else ""
        trail = MARK if index == 0 and len(spans) > 1 else ""
        parts.append(Part(
            lead + text[start:end] + trail,
            _clip(entities, utf16_len(text[:start]), utf16_len(text[:end]), utf16_len(lead)),
        ))
    return parts[0], parts[1:]


def _spans(text: str, first: int, rest: int, cost: Callable[[str], int]
           ) -> list[tuple[int, int]]:
    """(start, end) code point ranges: the first within `first` units, the others within
    `rest`, cut at a line break or a space where one is in the second half."""
    spans: list[tuple[int, int]] = []
    start, room = 0, first
    while start < len(text):
        end = _fit(text, start, room, cost)
        if end < len(text):
            for sep in ("\n", " "):
                at = text.rfind(sep, start, end + 1)
                if at > start + (end - start) // 2:
                    end = at
                    break
        piece_end = start + len(text[start:end].rstrip())
        spans.append((start, piece_end))
        start = end
        while start < len(text) and text[start].isspace():
            start += 1
        room = rest
    return spans or [(0, 0)]


def _fit(text: str, start: int, room: int, cost: Callable[[str], int]) -> int:
    used = 0
    for index in range(start, len(text)):
        used += cost(text[index])
        if used > room:
            return max(index, start + 1)
    return len(text)


def _clip(entities: Sequence[dict[str, Any]], low: int, high: int, shift: int
          ) -> list[MessageEntity] | None:
    """The entities within [low, high) UTF-16 units, moved to start at `shift`."""
    clipped = []
    for entity in entities:
        offset, length = int(entity["offset"]), int(entity["length"])
        start, end = max(offset, low), min(offset + length, high)
        if end <= start or ((start, end) != (offset, offset + length)
                            and entity["type"] in _WHOLE):
            continue
        clipped.append(MessageEntity.model_validate(
            {**entity, "offset": start - low + shift, "length": end - start}))
    return clipped or None

"""What the plain-text messenger channels (VK, MAX) share: the text a customer reads for a
core message, cutting a text at a platform's limit, and the backoff of their retries."""

from __future__ import annotations

import random
from collections.abc import Callable

from core.model import Message


def plain_text(message: Message) -> str:
    """What a customer reads for a core message: its text, a non-copyable one's summary line
    after it, or its content type when it has neither."""
    content = message.content
    if not content.copyable and content.summary:
        icon, what, detail = (content.summary.split("|", 2) + ["", ""])[:3]
        line = f"{icon} {what}" + (f": {detail}" if detail else "")
        return f"{content.text}\n{line}" if content.text else line
    if content.text or content.attachments:
        return content.text
    return f"[{content.content_type}]"


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Cut `text` into parts whose `measure` is at most `limit`, preferring a line break,
    then a space, in the second half of a part. Joining the parts gives the text back;
    a whitespace-only tail is dropped."""
    parts: list[str] = []
    rest = text
    while measure(rest) > limit:
        fit = _prefix_fitting(rest, limit, measure)
        cut = fit
        for sep in ("\n", " "):
            at = rest.rfind(sep, 0, fit)
            if at >= fit // 2:
                cut = at + 1
                break
        parts.append(rest[:cut])
        rest = rest[cut:]
    if rest.strip() or not parts:
        parts.append(rest)
    return parts


def _prefix_fitting(text: str, limit: int, measure: Callable[[str], int]) -> int:
    low, high = 1, len(text)  # the longest prefix that fits (at least 1), by bisection
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return low


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**attempt``,
    capped. Never near zero, so a failing peer never sees a tight loop."""
    ceiling = min(cap, base * (2 ** min(attempt, 30)))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto

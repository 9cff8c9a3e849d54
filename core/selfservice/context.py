"""The context post: what the customer and the bot said before a hand-over, in one compact
post at the top of the topic (after the card), so the person who answers asks nothing
twice."""

from __future__ import annotations

import html
from collections.abc import Sequence

from core.selfservice.faq import Faq
from core.selfservice.ports import Turn, TurnKind

MAX_TURNS = 12  # the latest; older ones are counted, not shown
LIMIT = 3500  # characters: the post stays one Telegram message (4096) with room to spare

_WHY = {
    TurnKind.UNSURE: "no FAQ answer fits the question",
    TurnKind.ASKED_PERSON: "the customer asked for a person",
    TurnKind.MEDIA: "the customer sent a file, a photo or a voice message",
    TurnKind.PRESSED_PERSON: "the customer pressed 🙋",
}


def _line(turn: Turn, faq: Faq) -> str:
    said = f"👤 {html.escape(turn.text or '…', quote=False)}" if turn.text is not None else ""
    if turn.kind is TurnKind.ANSWERED and turn.entry_id:
        entry = faq.get(turn.entry_id)
        question = entry.text(turn.language)[1].question if entry else ""
        answer = f"🤖 answered <b>{html.escape(turn.entry_id, quote=False)}</b>"
        if question:
            answer += f" ({html.escape(question, quote=False)})"
        return f"{said}\n   → {answer}"
    if turn.kind is TurnKind.SMALLTALK:
        return f"{said}\n   → 🤖 a polite reply"
    if turn.kind is TurnKind.HELPED:
        return "✅ pressed “That helped”"
    if turn.kind is TurnKind.PRESSED_PERSON:
        return "🙋 pressed “Talk to a person”"
    return said


def context_html(turns: Sequence[Turn], reason: Turn, faq: Faq, hidden: int = 0) -> str:
    """The post for a hand-over after `turns` (oldest first), caused by `reason` (the
    message or press that handed over; a message is relayed right after the post, so its
    text is not repeated). Empty when the bot had said nothing yet: the topic then starts
    like any other."""
    if not turns:
        return ""
    lines = [_line(t, faq) for t in turns]
    lines = [line for line in lines if line]
    while len(lines) > 1 and sum(len(line) + 1 for line in lines) > LIMIT:
        lines.pop(0)
        hidden += 1
    head = "🤖 <b>The customer talked to the bot first</b>"
    if hidden:
        head += f" ({hidden} earlier message{'s' if hidden != 1 else ''} not shown)"
    why = _WHY.get(reason.kind, "handed over")
    return "\n".join([head, *lines, f"➡️ Handed over: {why}."])

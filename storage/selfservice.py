"""Self-service's store (the core's SelfServiceStore) on tortoise, raw SQL throughout: the
bot's turns (`faq_turn`, times as integer microseconds like the SLA tables) and what the
report and `relaydesk faq suggest` read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.selfservice.ports import HANDED_OVER, SelfServiceStats, Turn, TurnKind
from storage.base import TortoiseBase, from_us, json_out, to_us


def _turn(r: Any) -> Turn:
    return Turn(r["conversation_id"], from_us(r["at_us"]), TurnKind(r["kind"]),
                r["entry_id"], r["score"], r["lang"], r["text"])


class TortoiseSelfServiceStore(TortoiseBase):
    async def add_turn(self, turn: Turn) -> None:
        await self._raw(
            "INSERT INTO faq_turn (conversation_id, at_us, kind, entry_id, score, lang, text)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [turn.conversation_id, to_us(turn.at), str(turn.kind), turn.entry_id, turn.score,
             turn.language, turn.text])

    async def turns(self, conversation_id: int, limit: int) -> list[Turn]:
        rows = await self._raw(
            "SELECT * FROM faq_turn WHERE conversation_id = ? ORDER BY id DESC LIMIT ?",
            [conversation_id, limit])
        return [_turn(r) for r in reversed(rows)]

    async def last_customer_text(self, conversation_id: int) -> str | None:
        rows = await self._raw(
            "SELECT content FROM message WHERE conversation_id = ? AND kind = 'customer'"
            " ORDER BY id DESC LIMIT 5", [conversation_id])
        for row in rows:
            text = (json_out(row["content"]) or {}).get("text")
            if text:
                return str(text)
        return None

    async def stats(self, since: datetime, until: datetime, top: int) -> SelfServiceStats:
        span = [to_us(since), to_us(until)]
        handed = ", ".join(f"'{k}'" for k in HANDED_OVER)
        [counts] = await self._raw(
            "SELECT COUNT(DISTINCT conversation_id) AS took,"
            " COUNT(DISTINCT CASE WHEN kind = 'helped' THEN conversation_id END) AS helped,"
            f" COUNT(DISTINCT CASE WHEN kind IN ({handed}) THEN conversation_id END) AS handed,"
            " COUNT(DISTINCT CASE WHEN kind = 'answered' THEN conversation_id END) AS answered"
            " FROM faq_turn WHERE at_us >= ? AND at_us < ? AND kind <> 'operator'", span)
        unanswered = await self._raw(
            "SELECT LOWER(text) AS question, COUNT(*) AS n FROM faq_turn WHERE kind = 'unsure'"
            " AND text IS NOT NULL AND at_us >= ? AND at_us < ? GROUP BY LOWER(text)"
            " ORDER BY n DESC, question LIMIT ?", [*span, top])
        return SelfServiceStats(
            bot_conversations=counts["took"], self_served=counts["helped"],
            handed_over=counts["handed"], answered=counts["answered"], helped=counts["helped"],
            unanswered=[(r["question"], r["n"]) for r in unanswered])

    async def operator_answers_by_language(self) -> list[tuple[str, str | None, str, int]]:
        rows = await self._raw(
            "SELECT entry_id, lang, text, COUNT(*) AS n FROM faq_turn WHERE kind = 'operator'"
            " AND entry_id IS NOT NULL AND text IS NOT NULL GROUP BY entry_id, lang, text"
            " ORDER BY entry_id, n DESC, text", [])
        return [(r["entry_id"], r["lang"], r["text"], r["n"]) for r in rows]

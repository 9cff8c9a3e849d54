"""The survey's store (the core's SurveyStore) on tortoise, raw SQL throughout; times as
integer microseconds like the SLA tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.feedback.ports import Survey, Tally
from storage.base import TortoiseBase, from_us, to_us


def _survey(r: Any) -> Survey:
    return Survey(
        r["conversation_id"], r["customer_id"], r["channel"], r["operator_id"],
        r["operator_name"], r["lang"], from_us(r["asked_us"]), from_us(r["expires_us"]),
        r["rating"], from_us(r["rated_us"]) if r["rated_us"] is not None else None,
        r["comment"],
        from_us(r["comment_until_us"]) if r["comment_until_us"] is not None else None)


class TortoiseSurveyStore(TortoiseBase):
    async def add_survey(self, survey: Survey) -> bool:
        rows = await self._raw(
            "INSERT INTO csat_survey (conversation_id, customer_id, channel, operator_id,"
            " operator_name, lang, asked_us, expires_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (conversation_id) DO NOTHING RETURNING id",
            [survey.conversation_id, survey.customer_id, survey.channel, survey.operator_id,
             survey.operator_name, survey.language, to_us(survey.asked_at),
             to_us(survey.expires_at)])
        return bool(rows)

    async def survey(self, conversation_id: int) -> Survey | None:
        rows = await self._raw("SELECT * FROM csat_survey WHERE conversation_id = ?",
                               [conversation_id])
        return _survey(rows[0]) if rows else None

    async def rate(self, conversation_id: int, rating: int, at: datetime,
                   comment_until: datetime | None) -> bool:
        rows = await self._raw(
            "UPDATE csat_survey SET rating = ?, rated_us = ?, comment_until_us = ?"
            " WHERE conversation_id = ? AND rating IS NULL RETURNING id",
            [rating, to_us(at), to_us(comment_until) if comment_until else None,
             conversation_id])
        return bool(rows)

    async def awaiting_comment(self, customer_id: int, now: datetime) -> Survey | None:
        rows = await self._raw(
            "SELECT * FROM csat_survey WHERE customer_id = ? AND comment_until_us > ?"
            " AND comment IS NULL ORDER BY id DESC LIMIT 1", [customer_id, to_us(now)])
        return _survey(rows[0]) if rows else None

    async def add_comment(self, conversation_id: int, text: str) -> None:
        await self._raw(
            "UPDATE csat_survey SET comment = ?, comment_until_us = NULL"
            " WHERE conversation_id = ?", [text, conversation_id])

    async def last_answerer(self, conversation_id: int) -> tuple[str, str] | None:
        rows = await self._raw(
            "SELECT author_id, author_name FROM message WHERE conversation_id = ?"
            " AND kind = 'operator' AND author_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            [conversation_id])
        if not rows:
            return None
        return str(rows[0]["author_id"]), str(rows[0]["author_name"] or rows[0]["author_id"])

    async def tallies(self, since: datetime, until: datetime
                      ) -> tuple[Tally, list[Tally], list[Tally]]:
        rows = await self._raw(
            "SELECT operator_id, MAX(operator_name) AS operator_name, channel,"
            " COUNT(*) AS rated, SUM(CASE WHEN rating >= 4 THEN 1 ELSE 0 END) AS satisfied"
            " FROM csat_survey WHERE rated_us >= ? AND rated_us < ?"
            " GROUP BY operator_id, channel", [to_us(since), to_us(until)])
        overall = Tally("overall", 0, 0)
        operators: dict[str, Tally] = {}
        channels: dict[str, Tally] = {}
        for r in rows:
            rated, satisfied = int(r["rated"]), int(r["satisfied"] or 0)
            overall = _plus(overall, rated, satisfied)
            name = r["operator_name"] or "nobody answered"
            operators[name] = _plus(operators.get(name, Tally(name, 0, 0)), rated, satisfied)
            channel = r["channel"]
            channels[channel] = _plus(channels.get(channel, Tally(channel, 0, 0)), rated,
                                      satisfied)
        return overall, sorted(operators.values(), key=_order), sorted(channels.values(),
                                                                       key=_order)


def _plus(t: Tally, rated: int, satisfied: int) -> Tally:
    return Tally(t.name, t.rated + rated, t.satisfied + satisfied)


def _order(t: Tally) -> tuple[int, str]:
    return -t.rated, t.name

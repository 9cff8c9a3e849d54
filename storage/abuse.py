"""Abuse protection's store (the core's AbuseStore) on tortoise, raw SQL throughout: bans
(`customer_ban`) and the messages kept off the desk (`abuse_event`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.abuse.ports import AbuseStats, Ban, EventKind, Held
from storage.base import BULK_ROWS, TortoiseBase, chunks, from_us, json_out, to_us

_IN_FORCE = "lifted_us IS NULL AND (until_us IS NULL OR until_us > ?)"


def _ban(r: Any) -> Ban:
    return Ban(r["customer_id"], r["by_id"], r["by_name"], r["reason"], from_us(r["at_us"]),
               from_us(r["until_us"]) if r["until_us"] is not None else None)


class TortoiseAbuseStore(TortoiseBase):
    async def add_ban(self, ban: Ban) -> None:
        await self.lift_ban(ban.customer_id, ban.at)
        await self._raw(
            "INSERT INTO customer_ban (customer_id, by_id, by_name, reason, at_us, until_us)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [ban.customer_id, ban.by_id, ban.by_name, ban.reason, to_us(ban.at),
             to_us(ban.until) if ban.until else None])

    async def lift_ban(self, customer_id: int, at: datetime) -> bool:
        rows = await self._raw(
            f"UPDATE customer_ban SET lifted_us = ? WHERE customer_id = ? AND {_IN_FORCE}"
            " RETURNING id", [to_us(at), customer_id, to_us(at)])
        return bool(rows)

    async def ban_of(self, customer_id: int, now: datetime) -> Ban | None:
        rows = await self._raw(
            f"SELECT * FROM customer_ban WHERE customer_id = ? AND {_IN_FORCE}"
            " ORDER BY id DESC LIMIT 1", [customer_id, to_us(now)])
        return _ban(rows[0]) if rows else None

    async def move_bans(self, from_customer: int, to_customer: int) -> None:
        await self._raw("UPDATE customer_ban SET customer_id = ? WHERE customer_id = ?",
                        [to_customer, from_customer])

    async def add_event(self, customer_id: int, conversation_id: int, at: datetime,
                        kind: EventKind, message_id: int | None = None) -> None:
        await self._raw(
            "INSERT INTO abuse_event (customer_id, conversation_id, message_id, at_us, kind)"
            " VALUES (?, ?, ?, ?, ?)", [customer_id, conversation_id, message_id, to_us(at),
                                        str(kind)])

    async def add_events(self, customer_id: int, conversation_id: int, at: datetime,
                         kind: EventKind, message_ids: Sequence[int]) -> None:
        at_us, kind_text = to_us(at), str(kind)
        for chunk in chunks(message_ids, BULK_ROWS):
            await self._raw(
                "INSERT INTO abuse_event (customer_id, conversation_id, message_id, at_us, kind)"
                " VALUES " + ", ".join("(?, ?, ?, ?, ?)" for _ in chunk),
                [v for message_id in chunk
                 for v in (customer_id, conversation_id, message_id, at_us, kind_text)])

    async def held(self, limit: int) -> list[Held]:
        rows = await self._raw(
            "SELECT e.id, e.conversation_id, e.message_id, e.at_us, m.content FROM abuse_event e"
            " JOIN message m ON m.id = e.message_id WHERE e.kind = 'held'"
            " ORDER BY e.id LIMIT ?", [limit])
        return [Held(r["id"], r["conversation_id"], r["message_id"], _text(r["content"]),
                     from_us(r["at_us"])) for r in rows]

    async def mark_combined(self, event_ids: list[int]) -> None:
        if event_ids:
            marks = ", ".join("?" for _ in event_ids)
            await self._raw(f"UPDATE abuse_event SET kind = 'combined' WHERE id IN ({marks})",
                            list(event_ids))

    async def stats(self, since: datetime, until: datetime) -> AbuseStats:
        span = [to_us(since), to_us(until)]
        [bans] = await self._raw(
            "SELECT COUNT(DISTINCT customer_id) AS n FROM customer_ban WHERE at_us < ?"
            " AND (lifted_us IS NULL OR lifted_us >= ?) AND (until_us IS NULL OR until_us >= ?)",
            [span[1], span[0], span[0]])
        [events] = await self._raw(
            "SELECT SUM(CASE WHEN kind = 'suppressed' THEN 1 ELSE 0 END) AS suppressed,"
            " SUM(CASE WHEN kind IN ('held', 'combined') THEN 1 ELSE 0 END) AS combined"
            " FROM abuse_event WHERE at_us >= ? AND at_us < ?", span)
        return AbuseStats(int(bans["n"]), int(events["suppressed"] or 0),
                          int(events["combined"] or 0))


def _text(content: Any) -> str:
    """A held message as one line of the combined post (its text, or its kind)."""
    data = json_out(content) or {}
    text = str(data.get("text") or "")
    return text or f"[{data.get('content_type', 'message')}]"

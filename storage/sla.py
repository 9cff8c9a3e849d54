"""SLA deadlines and breaches on tortoise (the core's SlaStore), raw SQL throughout.

Times are integer microseconds (like the outbox's `due_us`) so the same SQL compares them on
SQLite and PostgreSQL. The sweep reads `next_us <= now` on its own index; claims are
conditional updates and a unique breach key, so nothing fires twice across processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.sla.ports import ConversationRecord, DeadlineRecord, DueDeadline, TitleWork
from storage.base import TortoiseBase, dt_out, from_us, to_us

_DUE_COLUMNS = (
    "d.id, d.conversation_id, d.channel, d.kind, d.seq, d.started_us, d.due_us, d.remind_us,"
    " d.reminded, c.topic_id, c.assignee_id, c.department, c.desk_chat"
)


def _due(r: Any) -> DueDeadline:
    return DueDeadline(
        id=r["id"], conversation_id=r["conversation_id"], channel=r["channel"], kind=r["kind"],
        seq=r["seq"], started_at=from_us(r["started_us"]), due_at=from_us(r["due_us"]),
        remind_at=from_us(r["remind_us"]) if r["remind_us"] is not None else None,
        reminded=bool(r["reminded"]), topic_id=r["topic_id"], assignee_id=r["assignee_id"],
        department=r["department"], desk_chat=r["desk_chat"],
    )


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class TortoiseSlaStore(TortoiseBase):
    """The core's SlaStore; shares the caller's transaction like TortoiseStore."""

    async def start_deadlines(self, conversation_id: int, channel: str,
                              deadlines: Sequence[Any]) -> None:
        if not deadlines:
            return
        # One statement for all of them (a new conversation starts two clocks); each row's
        # seq is the next of its kind, read through the unique index.
        rows, values = [], []
        for d in deadlines:
            remind = to_us(d.remind_at) if d.remind_at is not None else None
            due = to_us(d.due_at)
            rows.append("(?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM sla_deadline"
                        " WHERE conversation_id = ? AND kind = ?), ?, ?, ?, ?, FALSE, FALSE)")
            values += [conversation_id, channel, str(d.kind), conversation_id, str(d.kind),
                       to_us(d.started_at), due, remind, remind if remind is not None else due]
        await self._raw(
            "INSERT INTO sla_deadline (conversation_id, channel, kind, seq, started_us, due_us,"
            f" remind_us, next_us, reminded, breached) VALUES {', '.join(rows)}", values,
        )

    async def stop_deadlines(self, conversation_id: int, kinds: Sequence[str], now: datetime,
                             by: str | None) -> None:
        await self._raw(
            "UPDATE sla_deadline SET stopped_us = ?, stopped_by = ?, next_us = NULL"
            " WHERE conversation_id = ? AND stopped_us IS NULL"
            f" AND kind IN ({_marks(len(kinds))})",
            [to_us(now), by, conversation_id, *kinds],
        )

    async def due_deadlines(self, now: datetime, limit: int) -> list[DueDeadline]:
        rows = await self._raw(
            f"SELECT {_DUE_COLUMNS} FROM sla_deadline d"
            " JOIN conversation c ON c.id = d.conversation_id"
            # Closing stops every deadline; a closed conversation is never chased even so.
            " WHERE d.next_us <= ? AND c.status <> 'closed' ORDER BY d.next_us LIMIT ?",
            [to_us(now), limit],
        )
        return [_due(r) for r in rows]

    async def claim_reminders(self, ids: Sequence[int], now: datetime) -> set[int]:
        if not ids:
            return set()
        rows = await self._raw(
            "UPDATE sla_deadline SET reminded = TRUE, next_us = due_us"
            f" WHERE id IN ({_marks(len(ids))}) AND reminded = FALSE AND next_us <= ?"
            " AND due_us > ? RETURNING id",
            [*ids, to_us(now), to_us(now)],
        )
        return {r["id"] for r in rows}

    async def record_breaches(self, ids: Sequence[int], now: datetime,
                              title_due: datetime | None = None) -> set[int]:
        if not ids:
            return set()
        marks = _marks(len(ids))
        if title_due is not None:  # overdue answers turn the topic's mark red
            await self._raw(
                "UPDATE conversation SET title_want = ?, title_due_at = ? WHERE id IN"
                f" (SELECT conversation_id FROM sla_deadline WHERE id IN ({marks})"
                " AND kind <> 'resolution' AND stopped_us IS NULL AND breached = FALSE)"
                " AND open_key IS NOT NULL",
                ["🔴", self.dt_in(title_due), *ids],
            )
        won = await self._raw(
            "INSERT INTO sla_breach (conversation_id, kind, seq, due_us, breached_us)"
            " SELECT conversation_id, kind, seq, due_us, ? FROM sla_deadline"
            f" WHERE id IN ({marks})"
            " AND due_us <= ? ON CONFLICT (conversation_id, kind, seq) DO NOTHING"
            " RETURNING conversation_id, kind, seq",
            [to_us(now), *ids, to_us(now)],
        )
        await self._raw(
            "UPDATE sla_deadline SET breached = TRUE, next_us = NULL"
            f" WHERE id IN ({marks}) AND due_us <= ?", [*ids, to_us(now)],
        )
        if not won:
            return set()
        keys = {(r["conversation_id"], r["kind"], r["seq"]) for r in won}
        rows = await self._raw(
            f"SELECT id, conversation_id, kind, seq FROM sla_deadline WHERE id IN ({marks})",
            list(ids),
        )
        return {r["id"] for r in rows if (r["conversation_id"], r["kind"], r["seq"]) in keys}

    async def postpone_deadlines(self, conversation_id: int, until: datetime) -> int:
        """Snooze: nothing about this conversation is chased before `until` (the targets
        themselves stay, so a missed one still counts as missed)."""
        rows = await self._raw(
            "UPDATE sla_deadline SET next_us = ? WHERE conversation_id = ?"
            " AND next_us IS NOT NULL AND next_us < ? RETURNING id",
            [to_us(until), conversation_id, to_us(until)],
        )
        return len(rows)

    async def overdue(self, now: datetime, limit: int) -> list[DueDeadline]:
        """Response targets missed and still unanswered (the hourly digest)."""
        rows = await self._raw(
            f"SELECT {_DUE_COLUMNS} FROM sla_deadline d"
            " JOIN conversation c ON c.id = d.conversation_id"
            " WHERE d.breached = TRUE AND d.stopped_us IS NULL AND d.due_us <= ?"
            " AND d.kind <> 'resolution' AND c.status <> 'closed' ORDER BY d.due_us LIMIT ?",
            [to_us(now), limit],
        )
        return [_due(r) for r in rows]

    async def history(self, since: datetime, until: datetime
                      ) -> tuple[list[ConversationRecord], list[DeadlineRecord]]:
        # Conversations people handled: not those a bot held alone (still, or to the end).
        conversations = await self._raw(
            "SELECT id, channel, assignee_id, opened_at, first_response_at, closed_at,"
            " department FROM conversation"
            " WHERE opened_at >= ? AND opened_at < ? AND status <> 'bot'"
            " AND (close_reason IS NULL OR close_reason <> 'self_served') ORDER BY id",
            [self.dt_in(since), self.dt_in(until)],
        )
        deadlines = await self._raw(
            "SELECT conversation_id, channel, kind, started_us, due_us, stopped_us, stopped_by,"
            " breached FROM sla_deadline WHERE started_us >= ? AND started_us < ? ORDER BY id",
            [to_us(since), to_us(until)],
        )
        return (
            [ConversationRecord(r["id"], r["channel"], r["assignee_id"],
                                dt_out(r["opened_at"]),  # type: ignore[arg-type]
                                dt_out(r["first_response_at"]), dt_out(r["closed_at"]),
                                r["department"])
             for r in conversations],
            [DeadlineRecord(r["conversation_id"], r["channel"], r["kind"],
                            from_us(r["started_us"]), from_us(r["due_us"]),
                            from_us(r["stopped_us"]) if r["stopped_us"] is not None else None,
                            r["stopped_by"], bool(r["breached"]))
             for r in deadlines],
        )

    async def titles_due(self, now: datetime, limit: int) -> list[TitleWork]:
        rows = await self._raw(
            "SELECT c.id, c.topic_id, c.customer_id, c.channel, c.title_want, c.title_mark,"
            " c.desk_chat, u.display_name"
            " FROM conversation c JOIN customer u ON u.id = c.customer_id"
            " WHERE c.title_due_at <= ? ORDER BY c.title_due_at LIMIT ?",
            [self.dt_in(now), limit * 4],
        )
        out = []
        for r in rows:
            if r["title_want"] == r["title_mark"] or r["topic_id"] is None or not r["title_want"]:
                await self.title_applied(r["id"], r["title_want"])  # nothing to rename
                continue
            out.append(TitleWork(r["id"], r["topic_id"], r["customer_id"], r["display_name"],
                                 r["channel"], r["title_want"], r["desk_chat"]))
        return out[:limit]

    async def forget_title(self, conversation_id: int) -> None:
        """A closed conversation's title is left as it is."""
        await self._raw("UPDATE conversation SET title_due_at = NULL WHERE id = ?",
                        [conversation_id])

    async def title_applied(self, conversation_id: int, mark: str | None) -> None:
        """The title shows `mark`; done unless the wanted mark changed meanwhile."""
        await self._raw(
            "UPDATE conversation SET title_mark = ?, title_due_at = CASE WHEN title_want = ?"
            " THEN NULL ELSE title_due_at END WHERE id = ?",
            [mark, mark, conversation_id],
        )

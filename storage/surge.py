"""Surge's store on tortoise (core.delivery.spares.SpareStore and
core.delivery.first_post.FirstPostStore): spare topics and first posts, raw SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.delivery.surge import SurgePeriod
from storage.base import TortoiseBase, from_us, to_us


class TortoiseSurgeStore(TortoiseBase):
    async def add_spare(self, chat: str, topic_id: int, now: datetime) -> None:
        await self._raw("INSERT INTO group_spare (chat, topic_id, conversation_id, made_us)"
                        " VALUES (?, ?, NULL, ?)", [chat, topic_id, to_us(now)])

    async def free_spares(self, chat: str) -> int:
        rows = await self._raw("SELECT COUNT(*) AS n FROM group_spare WHERE chat = ?"
                               " AND conversation_id IS NULL", [chat])
        return int(rows[0]["n"])

    async def take_spare(self, chat: str, conversation_id: int) -> int | None:
        # Processes and lanes race for the oldest free spares: each tries the oldest few in
        # turn (a conditional update: the loser's matches nothing), so a burst of new
        # conversations spreads over them instead of every loser looking at the same one.
        for _ in range(5):
            free = await self._raw(
                "SELECT id FROM group_spare WHERE chat = ? AND conversation_id IS NULL"
                " ORDER BY id LIMIT 16", [chat])
            if not free:
                return None
            for row in free:
                rows = await self._raw(
                    "UPDATE group_spare SET conversation_id = ? WHERE id = ?"
                    " AND conversation_id IS NULL RETURNING topic_id",
                    [conversation_id, row["id"]])
                if rows:
                    return int(rows[0]["topic_id"])
        return None

    async def give_back_spare(self, chat: str, topic_id: int) -> None:
        await self._raw("UPDATE group_spare SET conversation_id = NULL WHERE chat = ?"
                        " AND topic_id = ?", [chat, topic_id])

    async def spares_to_title(self, chat: str, limit: int) -> list[tuple[int, int]]:
        rows = await self._raw(
            "SELECT topic_id, conversation_id FROM group_spare WHERE chat = ?"
            " AND conversation_id IS NOT NULL ORDER BY id LIMIT ?", [chat, limit])
        return [(int(r["topic_id"]), int(r["conversation_id"])) for r in rows]

    async def spare_titled(self, chat: str, topic_id: int) -> None:
        await self._raw("DELETE FROM group_spare WHERE chat = ? AND topic_id = ?",
                        [chat, topic_id])

    async def mark_first_post(self, conversation_id: int, message_id: int) -> None:
        if not await self.is_first_post(message_id):
            await self._raw("INSERT INTO first_post (message_id, conversation_id)"
                            " VALUES (?, ?)", [message_id, conversation_id])

    async def is_first_post(self, message_id: int) -> bool:
        rows = await self._raw("SELECT 1 AS x FROM first_post WHERE message_id = ?",
                               [message_id])
        return bool(rows)

    async def add_parts(self, conversation_id: int, post_id: str, message_ids: Sequence[int],
                        now: datetime) -> None:
        for message_id in message_ids:
            await self._raw("DELETE FROM coalesced_part WHERE message_id = ?", [message_id])
            await self._raw("INSERT INTO coalesced_part (message_id, conversation_id, post_id,"
                            " posted_us) VALUES (?, ?, ?, ?)",
                            [message_id, conversation_id, post_id, to_us(now)])

    async def part_post(self, message_id: int) -> tuple[str, datetime] | None:
        rows = await self._raw("SELECT post_id, posted_us FROM coalesced_part"
                               " WHERE message_id = ?", [message_id])
        return (str(rows[0]["post_id"]), from_us(rows[0]["posted_us"])) if rows else None

    async def post_parts(self, conversation_id: int, post_id: str) -> list[int]:
        rows = await self._raw("SELECT message_id FROM coalesced_part WHERE post_id = ?"
                               " AND conversation_id = ? ORDER BY message_id",
                               [post_id, conversation_id])
        return [int(r["message_id"]) for r in rows]

    async def desk_backlogs(self, main_chat: str) -> dict[str, int]:
        # A conversation's rows go to its topic's group (desk_chat NULL: the operator
        # group); a post of no conversation names its group in the row.
        rows = await self._raw(
            "SELECT COALESCE(c.desk_chat, d.chat_id) AS grp, COUNT(*) AS n FROM delivery d"
            " LEFT JOIN conversation c ON c.id = d.conversation_id WHERE d.target = 'desk'"
            " AND d.status IN ('pending', 'sending') GROUP BY COALESCE(c.desk_chat, d.chat_id)",
            [])
        backlogs: dict[str, int] = {}
        for row in rows:
            group = "" if row["grp"] in (None, main_chat) else str(row["grp"])
            backlogs[group] = backlogs.get(group, 0) + int(row["n"])
        return backlogs

    async def surge_started(self, group: str, at: datetime, waiting: int) -> None:
        await self._raw("INSERT INTO surge_period (chat, started_us, ended_us, peak)"
                        " VALUES (?, ?, NULL, ?)", [group, to_us(at), waiting])

    async def surge_peak(self, group: str, waiting: int) -> None:
        await self._raw("UPDATE surge_period SET peak = ? WHERE chat = ? AND ended_us IS NULL"
                        " AND peak < ?", [waiting, group, waiting])

    async def surge_ended(self, group: str, at: datetime) -> None:
        await self._raw("UPDATE surge_period SET ended_us = ? WHERE chat = ?"
                        " AND ended_us IS NULL", [to_us(at), group])

    async def open_surges(self) -> list[SurgePeriod]:
        rows = await self._raw("SELECT * FROM surge_period WHERE ended_us IS NULL"
                               " ORDER BY id", [])
        return [SurgePeriod(from_us(r["started_us"]), None, int(r["peak"]), str(r["chat"]))
                for r in rows]

    async def surges(self, since: datetime, until: datetime) -> list[SurgePeriod]:
        rows = await self._raw(
            "SELECT * FROM surge_period WHERE started_us < ? AND (ended_us IS NULL OR"
            " ended_us >= ?) ORDER BY started_us", [to_us(until), to_us(since)])
        return [SurgePeriod(from_us(r["started_us"]),
                            from_us(r["ended_us"]) if r["ended_us"] is not None else None,
                            int(r["peak"]), str(r["chat"])) for r in rows]

"""The outbox table: enqueue, claim (FIFO per lane), finish, retry, leases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.connection import get_connection

from core import model as m
from core.delivery.ports import LaneClaim
from storage import pg_engine
from storage.base import BULK_ROWS, TortoiseBase, chunks, from_us, json_in, to_us


def _delivery_raw(row: Any) -> m.Delivery:
    """A Delivery from a raw SQL row (the hot claim path skips the ORM's second query)."""
    body = row["body"]
    if isinstance(body, str | bytes):
        body = json.loads(body)
    return m.Delivery(
        id=row["id"], lane=row["lane"], target=row["target"], chat_id=row["chat_id"],
        action=m.Action(row["action"]), message_id=row["message_id"],
        conversation_id=row["conversation_id"], status=m.DeliveryStatus(row["status"]),
        attempts=row["attempts"], next_attempt_at=from_us(row["due_us"]),
        group_key=row["group_key"], body=body or {}, last_error=row["last_error"],
        more=bool(row["more"]) if "more" in row.keys() else True,  # noqa: SIM118 - Row `in` tests values
    )


def _due_prefix(rows: Sequence[dict[str, Any]], now: datetime) -> list[int]:
    """The ids of the leading due rows: FIFO, nothing overtakes a row that is not due yet."""
    horizon = to_us(now)
    ids: list[int] = []
    for r in rows:
        if r["due_us"] > horizon:
            break
        ids.append(r["id"])
    return ids


# Whether a lane has pending rows behind row `d` (returned with claimed heads).
_MORE = ("EXISTS (SELECT 1 FROM delivery f WHERE f.lane = d.lane AND f.status = 'pending'"
         " AND f.id > d.id)")


# Delivery `d` is its lane's head: no earlier pending row and no row in flight anywhere in
# the lane (a row born claimed by intake can be in flight while an earlier row, committed
# later by a concurrent transaction, is pending: the lane is somebody's until it is done).
# Two probes, each bounded by `delivery_lane_idx` (lane, status, id): one `OR` of the two
# read every row of the lane, its delivered history included.
_HEAD = (" AND NOT EXISTS (SELECT 1 FROM delivery e WHERE e.lane = d.lane"
         " AND e.status = 'sending')"
         " AND NOT EXISTS (SELECT 1 FROM delivery e WHERE e.lane = d.lane"
         " AND e.status = 'pending' AND e.id < d.id)")


# PostgreSQL: the claiming process's number, from its connection (migration 0007).
OWNER = "NULLIF(current_setting('relaydesk.owner', true), '')::integer"

# Process numbers whose advisory lock is held, i.e. processes alive (see pg_engine).
_LIVE_OWNERS = (
    "SELECT l.objid::bigint FROM pg_locks l WHERE l.locktype = 'advisory'"
    " AND l.granted AND l.classid::bigint = ? AND l.objsubid = 2"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _marks(ids: Sequence[int]) -> str:
    return ", ".join("?" for _ in ids)


class DeliveryRepository(TortoiseBase):
    # ---- the outbox ------------------------------------------------------------------

    async def enqueue(
        self, *, lane: str, target: str, chat_id: str, action: m.Action, now: datetime,
        message_id: int | None = None, conversation_id: int | None = None,
        group_key: str | None = None, not_before: datetime | None = None,
        body: dict[str, Any] | None = None,
    ) -> int:
        rows = await self._raw(
            "INSERT INTO delivery (lane, target, chat_id, action, message_id, conversation_id,"
            " status, attempts, due_us, group_key, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?) RETURNING id",
            [lane, target, chat_id, str(action), message_id, conversation_id,
             to_us(not_before or now), group_key, json_in(body or {}), self.dt_in(now)],
        )
        return int(rows[0]["id"])

    async def enqueue_relay(
        self, *, lane: str, target: str, chat_id: str, message_id: int,
        conversation_id: int | None, now: datetime, claim_until: datetime | None,
        lane_empty: bool = False,
    ) -> m.Delivery:
        """A message's relay, born claimed (`sending`, leased until `claim_until`) when its
        lane has nothing pending or in flight and the caller may run it at once.

        Only inside a transaction (intake's). `lane_empty`: the caller knows (the lane is
        a conversation's started in this transaction, which nobody else can name yet).
        Otherwise SQLite looks: one writer holds the database from its first write to
        `COMMIT`, so the look and the insert are atomic; PostgreSQL's general path queues
        it pending (its born claims need the lane's lock: see storage.fast_intake)."""
        claimed = False
        if claim_until is not None:
            if lane_empty:
                claimed = True
            elif not self._pg:
                rows = await self._raw(
                    "SELECT 1 FROM delivery WHERE lane = ? AND status IN ('pending', 'sending')"
                    " LIMIT 1", [lane],
                )
                claimed = not rows
        status = m.DeliveryStatus.SENDING if claimed else m.DeliveryStatus.PENDING
        rows = await self._raw(
            "INSERT INTO delivery (lane, target, chat_id, action, message_id, conversation_id,"
            " status, attempts, due_us, lease_us, body, created_at)"
            " VALUES (?, ?, ?, 'relay', ?, ?, ?, 0, ?, ?, '{}', ?) RETURNING id",
            [lane, target, chat_id, message_id, conversation_id, str(status), to_us(now),
             to_us(claim_until) if claimed and claim_until else None, self.dt_in(now)],
        )
        return m.Delivery(
            id=int(rows[0]["id"]), lane=lane, target=target, chat_id=chat_id,
            action=m.Action.RELAY, message_id=message_id, conversation_id=conversation_id,
            status=status, attempts=0, next_attempt_at=now, group_key=None, body={},
            more=False,
        )

    async def enqueue_relays(
        self, rows: Sequence[tuple[str, str, str, int, int]], now: datetime
    ) -> None:
        due, created = to_us(now), self.dt_in(now)
        for chunk in chunks(rows, BULK_ROWS):
            await self._raw(
                "INSERT INTO delivery (lane, target, chat_id, action, message_id,"
                " conversation_id, status, attempts, due_us, body, created_at) VALUES "
                + ", ".join("(?, ?, ?, 'relay', ?, ?, 'pending', 0, ?, '{}', ?)" for _ in chunk),
                [v for lane, target, chat_id, message_id, conversation_id in chunk
                 for v in (lane, target, chat_id, message_id, conversation_id, due, created)],
            )

    async def postpone_group(self, lane: str, group_key: str, until: datetime) -> None:
        await self._raw(
            "UPDATE delivery SET due_us = ? WHERE lane = ? AND group_key = ?"
            " AND status = 'pending'", [to_us(until), lane, group_key],
        )

    async def claim_heads(
        self, now: datetime, limit: int, exclude_lanes: set[str], lease_until: datetime | None,
        target: str,
    ) -> list[m.Delivery]:
        """Claim the due first rows of lanes nobody works on (FIFO per lane, across
        processes: a lane whose first row is `sending` is somebody's)."""
        values: list[Any] = [target, to_us(now)]
        # The target's pending rows in id order (`delivery_queue_idx`, 0026) until `limit`
        # heads are found: a look reads the rows queued ahead of them, not the whole
        # backlog. `+` keeps SQLite's planner off `delivery_due_idx`, whose range it would
        # read in full and sort.
        query = (
            f"SELECT d.*, {_MORE} AS more FROM delivery d WHERE d.target = ? AND"
            " d.status = 'pending' AND +d.due_us <= ?"
        )
        if exclude_lanes:
            # Excluded in SQL, not after: a row locked here (and then not taken) would make
            # this process's own lane task skip it and overtake it.
            query += f" AND d.lane NOT IN ({', '.join('?' for _ in exclude_lanes)})"
            values += sorted(exclude_lanes)
        query += f"{_HEAD} ORDER BY d.id LIMIT ?"
        values.append(limit)
        if lease_until is None:  # the only process on this database: nothing to mark
            return [_delivery_raw(r) for r in await self._raw(query, values)]
        if self._pg:
            # Select and mark in one statement. The candidates are fenced off by their
            # LIMIT, then each lane's advisory lock is tried: a lane whose lock another
            # claimer holds is skipped (see migration 0005), and a head claimed meanwhile
            # fails the UPDATE's own `status = 'pending'` recheck. Planned from statistics
            # that say pending rows are few (a new database, an ANALYZE at a quiet time),
            # `id IN (…)` ran the candidates' look once per pending row, and a plain
            # recheck walked `delivery_due_idx` through every pending row: the CTE
            # (volatile, so run once) and `IS TRUE` (not indexable) leave the primary key.
            heads = query.replace(f"SELECT d.*, {_MORE} AS more", "SELECT d.id, d.lane", 1)
            rows = await self._raw(
                f"WITH locked AS (SELECT h.id FROM ({heads}) h"
                " WHERE pg_try_advisory_xact_lock(hashtextextended(h.lane, 0)))"
                f" UPDATE delivery SET status = 'sending', lease_us = ?, owner = {OWNER}"
                " FROM locked WHERE delivery.id = locked.id"
                " AND (delivery.status = 'pending') IS TRUE"
                f" RETURNING delivery.*, {_MORE.replace('d.', 'delivery.')} AS more",
                [*values, to_us(lease_until)],
            )
            return sorted((_delivery_raw(r) for r in rows), key=lambda d: d.id)
        async with self.transaction():
            rows = await self._raw(query, values)
            return await self._mark_sending([r["id"] for r in rows], lease_until)

    async def claim_next(
        self, lane: str, now: datetime, limit: int, lease_until: datetime | None,
        after_id: int = 0, held: Sequence[int] = (),
    ) -> LaneClaim:
        """Claim the next due rows of a lane this process runs: the rows above `after_id`
        when claims are not marked (one process), else the lane's leading due rows, unless
        another process has a row of the lane in flight (`held`: this task's own). When
        nothing is due, says when the lane's first pending row will be."""
        if self._pg and lease_until is not None:  # under the lane's lock (0005, 0006)
            rows = await self._raw(
                "SELECT * FROM relaydesk_claim_next(?, ?::bigint[], ?, ?, ?)",
                [lane, list(held), to_us(now), to_us(lease_until), limit],
            )
            found = sorted((_delivery_raw(r) for r in rows), key=lambda d: d.id)
            claimed = [d for d in found if d.status is m.DeliveryStatus.SENDING]
            left = next((d for d in found if d.status is m.DeliveryStatus.PENDING), None)
            return LaneClaim(claimed, left.next_attempt_at if left else None)
        query = ("SELECT * FROM delivery WHERE lane = ? AND status = 'pending' AND id > ?"
                 " ORDER BY id LIMIT ?")
        if lease_until is None:
            rows = await self._raw(query, [lane, after_id, limit])
            due = _due_prefix(rows, now)
            claimed = [_delivery_raw(r) for r in rows[:len(due)]]
        else:
            async with self.transaction():
                rows = await self._raw(query, [lane, after_id, limit])
                due = _due_prefix(rows, now)
                claimed = await self._mark_sending(due, lease_until)
        left = rows[len(due)] if len(due) < len(rows) else None
        return LaneClaim(claimed, from_us(left["due_us"]) if left is not None else None)

    async def _mark_sending(self, ids: list[int], lease_until: datetime) -> list[m.Delivery]:
        if not ids:
            return []
        rows = await self._raw(
            f"UPDATE delivery SET status = 'sending', lease_us = ? WHERE id IN ({_marks(ids)})"
            " RETURNING *", [to_us(lease_until), *ids],
        )
        return sorted((_delivery_raw(r) for r in rows), key=lambda d: d.id)

    async def finish(
        self, delivery_id: int, status: m.DeliveryStatus, error: str | None = None
    ) -> None:
        await self._raw(
            "UPDATE delivery SET status = ?, last_error = ?, lease_us = NULL WHERE id = ?",
            [str(status), error, delivery_id],
        )

    async def complete(
        self, delivery_ids: Sequence[int], copies: Sequence[tuple[int, str, str, str]] = ()
    ) -> None:
        if not delivery_ids:
            return
        if self._pg:  # one round trip, atomic without BEGIN/COMMIT
            await self._raw(
                "WITH copies AS (INSERT INTO message_link (message_id, platform, chat_id,"
                " platform_message_id, is_origin) SELECT m, p, c, x, FALSE FROM"
                " unnest(?::int[], ?::text[], ?::text[], ?::text[]) AS t(m, p, c, x)"
                " ON CONFLICT DO NOTHING)"
                " UPDATE delivery SET status = 'done', last_error = NULL, lease_us = NULL"
                " WHERE id = ANY(?::bigint[])",
                [[c[0] for c in copies], [c[1] for c in copies], [c[2] for c in copies],
                 [c[3] for c in copies], list(delivery_ids)],
            )
            return
        async with self.transaction():
            for message_id, platform, chat_id, pid in copies:
                await self._raw(
                    "INSERT INTO message_link (message_id, platform, chat_id,"
                    " platform_message_id, is_origin) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING", [message_id, platform, chat_id, pid, False],
                )
            await self._raw(
                "UPDATE delivery SET status = 'done', last_error = NULL, lease_us = NULL"
                f" WHERE id IN ({_marks(delivery_ids)})", list(delivery_ids),
            )

    async def reschedule(
        self, delivery_id: int, at: datetime, error: str | None, attempts: int
    ) -> None:
        await self._raw(
            "UPDATE delivery SET status = 'pending', due_us = ?, last_error = ?, attempts = ?,"
            " lease_us = NULL WHERE id = ?", [to_us(at), error, attempts, delivery_id],
        )

    async def release(self, delivery_ids: Sequence[int]) -> None:
        if delivery_ids:
            await self._raw(
                "UPDATE delivery SET status = 'pending', lease_us = NULL"
                f" WHERE id IN ({_marks(delivery_ids)})", list(delivery_ids),
            )

    async def extend_leases(self, delivery_ids: Sequence[int], until: datetime) -> None:
        if delivery_ids:
            await self._raw(
                f"UPDATE delivery SET lease_us = ? WHERE id IN ({_marks(delivery_ids)})"
                " AND status = 'sending'", [to_us(until), *delivery_ids],
            )

    async def release_stale(self, now: datetime) -> int:
        rows = await self._raw(
            "UPDATE delivery SET status = 'pending', lease_us = NULL"
            " WHERE status = 'sending' AND lease_us < ? RETURNING id", [to_us(now)],
        )
        return len(rows)

    async def release_orphaned(self) -> int:
        """Rows in flight whose process died (its advisory lock is gone with its
        connection): due again at once. PostgreSQL only; a process that hangs keeps its
        lock, and its rows come free when their lease runs out (`release_stale`). Takes
        this process's own lock again first if its connection was lost."""
        if not self._pg:
            return 0
        client = get_connection("default")
        if isinstance(client, pg_engine.FastAsyncpgClient):
            await client.hold_owner()
        rows = await self._raw(
            "UPDATE delivery SET status = 'pending', lease_us = NULL, owner = NULL"
            " WHERE status = 'sending' AND owner IS NOT NULL"
            f" AND owner NOT IN ({_LIVE_OWNERS}) RETURNING id", [pg_engine.LIVENESS_NS],
        )
        return len(rows)

    async def next_due_at(
        self, exclude_lanes: set[str] | None = None, targets: Sequence[str] | None = None,
    ) -> datetime | None:
        """When the earliest lane head nobody works on becomes due (rows behind a head, or
        in lanes in flight, do not count: waking for them would spin), among `targets`
        (None: all)."""
        values: list[Any] = []
        if targets is None:
            names = "SELECT DISTINCT target FROM delivery WHERE status = 'pending'"
        elif not targets:
            return None
        else:
            names = " UNION ALL ".join("SELECT CAST(? AS TEXT) AS target" for _ in targets)
            values += list(targets)
        excluded = ""
        if exclude_lanes:
            excluded = f" AND d.lane NOT IN ({_marks(sorted(exclude_lanes))})"
        # Per target, its pending rows in due order (`delivery_due_idx`) until the first
        # head: a look reads the rows due before it, not the whole backlog.
        rows = await self._raw(
            "SELECT MIN((SELECT d.due_us FROM delivery d WHERE d.status = 'pending'"
            f" AND d.target = t.target{excluded}{_HEAD} ORDER BY d.due_us LIMIT 1)) AS due"
            f" FROM ({names}) t", [*sorted(exclude_lanes or ()), *values],
        )
        due = rows[0]["due"] if rows else None
        return from_us(due) if due is not None else None

    async def overdue_heads(
        self, before: datetime, exclude_lanes: set[str], targets: Sequence[str],
        limit: int = 20,
    ) -> list[m.Delivery]:
        """Claimable heads of `targets` due before `before` that no lane of this process
        runs: the outbox's safety net (with every wake-up right, there are none)."""
        values: list[Any] = [*targets, to_us(before)]
        query = (f"SELECT d.* FROM delivery d WHERE d.target IN ({_marks(targets)})"
                 " AND d.status = 'pending' AND d.due_us < ?")
        if exclude_lanes:
            query += f" AND d.lane NOT IN ({_marks(sorted(exclude_lanes))})"
            values += sorted(exclude_lanes)
        query += f"{_HEAD} ORDER BY d.due_us LIMIT ?"
        values.append(limit)
        return [_delivery_raw(r) for r in await self._raw(query, values)]

    async def count_deliveries(self, status: m.DeliveryStatus | None = None) -> int:
        if status is None:
            rows = await self._raw("SELECT COUNT(*) AS n FROM delivery", [])
        else:
            rows = await self._raw("SELECT COUNT(*) AS n FROM delivery WHERE status = ?",
                                   [str(status)])
        return int(rows[0]["n"])

"""The SLA sweep against a large desk: 100 000 open conversations with running deadlines.

    .venv/bin/python -m bench.sla_sweep --db sqlite|postgres [--open 100000] [--due 1000]

Seeds customers, open conversations and one first-response deadline each (set-based SQL,
not timed), then times `SlaSweeper.sweep()`:
- idle: nothing is due (`--repeat` sweeps; the target is ≤ 50 ms);
- due: `--due` deadlines have passed (the target is ≤ 1 s, their posts queued in the outbox,
  not sent); a fresh set of due rows for each of `--due-repeat` runs.
Also prints the sweep query's plan, to show it is an index range scan.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.databases import pg_database
from bench.report import emit, log, summary_ms
from core.clock import FrozenClock
from core.delivery.queue import Queue
from core.sla.hours import WorkingHours
from core.sla.policy import ChannelPolicy, SlaPolicy, Targets
from core.sla.sweep import SlaSweeper
from core.unit import Transactions
from storage.base import to_us
from storage.database import close_database, migrate, open_database
from storage.sla import TortoiseSlaStore
from storage.store import TortoiseStore

DESK_CHAT = "-1001000000001"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="relaydesk-bench-sla-") as tmp:
            yield f"sqlite://{Path(tmp) / 'relaydesk.sqlite3'}"
    else:
        async with pg_database("relaydesk_bench_sla") as url:
            yield url


async def seed(store: TortoiseStore, n: int) -> None:
    """n customers, n open conversations, n first-response deadlines due in the future."""
    now_text = store.dt_in(NOW)
    future = to_us(NOW + timedelta(days=2))
    if store._pg:
        series = f"SELECT g AS i FROM generate_series(1, {n}) g"
    else:
        series = (f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
                  f"WHERE i < {n}) SELECT i FROM s")
    async with store.transaction():
        await store._raw(f"INSERT INTO customer (id, display_name, created_at) SELECT i,"
                         f" 'Customer ' || i, ? FROM ({series}) x", [now_text])
        await store._raw(
            "INSERT INTO conversation (id, customer_id, channel, status, topic_id, card_posted,"
            " reply_identity_id, opened_at, waiting_since, open_key)"
            f" SELECT i, i, 'telegram', 'open', 1000 + i, TRUE, i, ?, ?, i FROM ({series}) x",
            [now_text, now_text])
        await store._raw(
            "INSERT INTO sla_deadline (conversation_id, channel, kind, seq, started_us, due_us,"
            " remind_us, next_us, reminded, breached)"
            f" SELECT i, 'telegram', 'first_response', 1, ?, ?, NULL, ?, FALSE, FALSE"
            f" FROM ({series}) x", [to_us(NOW), future, future])
    await store._raw("ANALYZE", [])


async def make_due(store: TortoiseStore, first: int, count: int, at: datetime, mode: str
                   ) -> None:
    """Make `count` deadlines (conversation ids first…) need attention at `at`: a breach
    (the deadline passed) or a reminder (the deadline is 10 minutes away)."""
    before = to_us(at - timedelta(seconds=1))
    due = before if mode == "breach" else to_us(at + timedelta(minutes=10))
    await store._raw(
        "UPDATE sla_deadline SET due_us = ?, remind_us = ?, next_us = ? WHERE"
        " conversation_id >= ? AND conversation_id < ?",
        [due, before, before, first, first + count])


async def plan(store: TortoiseStore) -> list[str]:
    query = ("SELECT d.id FROM sla_deadline d JOIN conversation c ON c.id = d.conversation_id"
             f" WHERE d.next_us <= {to_us(NOW)} ORDER BY d.next_us LIMIT 1000")
    if store._pg:
        rows = await store._raw(f"EXPLAIN {query}", [])
        return [r["QUERY PLAN"] for r in rows]
    rows = await store._raw(f"EXPLAIN QUERY PLAN {query}", [])
    return [str(r["detail"]) for r in rows]


async def run(kind: str, n: int, due: int, repeat: int, due_repeat: int) -> dict[str, Any]:
    async with database(kind) as url:
        await migrate(url)
        handle = await open_database(url, apply_migrations=False)
        try:
            store, sla = TortoiseStore(), TortoiseSlaStore()
            started = time.perf_counter()
            await seed(store, n)
            log(f"{kind}: seeded {n} open conversations in {time.perf_counter() - started:.1f}s")
            clock = FrozenClock(NOW)
            hours = WorkingHours.around_the_clock()
            policy = SlaPolicy(ChannelPolicy(hours, Targets()), admins=(1,))
            sweeper = SlaSweeper(sla, Transactions(store, clock), Queue(store, DESK_CHAT),
                                 policy)
            idle = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                result = await sweeper.sweep()
                idle.append(time.perf_counter() - t0)
                assert result.breached == 0
            timed: dict[str, list[float]] = {"breach": [], "remind": []}
            counts: dict[str, list[int]] = {"breach": [], "remind": []}
            for r in range(due_repeat * 2):
                mode = "breach" if r % 2 == 0 else "remind"
                clock.advance(timedelta(minutes=1))
                await make_due(store, 1 + r * due, due, clock.now(), mode)
                t0 = time.perf_counter()
                result = await sweeper.sweep()
                timed[mode].append(time.perf_counter() - t0)
                counts[mode].append(result.breached if mode == "breach" else result.reminded)
            queued = await store._raw("SELECT COUNT(*) AS n FROM delivery", [])
            return {
                "db": kind, "open_conversations": n,
                "idle_sweep": summary_ms(idle),
                "due_sweep_breaches": {**summary_ms(timed["breach"]), "due_per_sweep": due,
                                       "breached": counts["breach"],
                                       "posts": "one escalation post per sweep in General"},
                "due_sweep_reminders": {**summary_ms(timed["remind"]), "due_per_sweep": due,
                                        "reminded": counts["remind"],
                                        "posts": "one notice per conversation topic"},
                "outbox_rows_queued": int(queued[0]["n"]),
                "plan": await plan(store),
                "targets": {"idle_ms": 50, "due_ms": 1000},
            }
        finally:
            await close_database(handle)


def main() -> None:
    parser = argparse.ArgumentParser(description="SLA sweep benchmark (prints JSON)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--due-repeat", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(run(args.db, args.open, args.due, args.repeat, args.due_repeat))
    emit(f"sla-sweep-{args.db}", result)


if __name__ == "__main__":
    main()

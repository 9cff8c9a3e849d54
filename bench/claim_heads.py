"""The dispatcher's looks at the outbox under a backlog (issue 15): `claim_heads`,
`next_due_at` and `overdue_heads` with 200 lanes × 5 pending rows (a burst of 200 customers),
part of the lanes in flight (their first row `sending`: another process's), a few run by
this process (`exclude_lanes`), and a history of delivered rows. In process, one database
at a time; each look timed `--rounds` times (a leased claim is released, untimed, after each
round so every round sees the same backlog).

    .venv/bin/python -m bench.claim_heads --relay sqlite|postgres [--lanes 200 --per-lane 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.databases import pg_database
from bench.relays import relay_arg
from bench.report import emit, summary_ms
from core.model import DESK
from storage.base import to_us
from storage.database import close_database, migrate, open_database
from storage.deliveries import DeliveryRepository

WORKERS = 8  # the dispatcher's free slots per target: its claim's LIMIT
TARGETS = [DESK, "telegram"]


def _lane(i: int) -> tuple[str, str]:
    """Half the lanes are conversations' desk lanes, half customers' chats."""
    return (f"desk:{i}", DESK) if i % 2 else (f"telegram:{i}", "telegram")


async def _fill(store: DeliveryRepository, lanes: int, per_lane: int, in_flight: int,
                done: int, now: datetime) -> None:
    """As a burst commits them: the customers' k-th messages, then their k+1-th, ...; the
    first `in_flight` lanes have a row in flight before their pending ones."""
    raw = store._raw  # noqa: SLF001 - a benchmark filling the table in bulk
    rows: list[tuple[str, str, str]] = []
    rows += [(*_lane(i % lanes), "done") for i in range(done)]
    rows += [(*_lane(i), "sending") for i in range(in_flight)]
    rows += [(*_lane(i), "pending") for _ in range(per_lane) for i in range(lanes)]
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        await raw("INSERT INTO delivery (lane, target, chat_id, action, status, attempts,"
                  " due_us, body, created_at) VALUES "
                  + ", ".join("(?, ?, 'c', 'relay', ?, 0, ?, '{}', ?)" for _ in chunk),
                  [v for lane, target, status in chunk
                   for v in (lane, target, status, to_us(now), store.dt_in(now))])
    if store._pg:  # noqa: SLF001 - as autovacuum would have by then
        await raw("ANALYZE delivery", [])


async def _time(rounds: int, look: Callable[[], Awaitable[Any]],
                after: Callable[[Any], Awaitable[None]] | None = None) -> dict[str, Any]:
    times: list[float] = []
    found = None
    for _ in range(rounds):
        started = time.perf_counter()
        found = await look()
        times.append(time.perf_counter() - started)
        if after is not None:
            await after(found)
    size = len(found) if isinstance(found, list) else int(found is not None)
    return {**summary_ms(times), "found": size}


async def _looks(store: DeliveryRepository, lanes: int, in_flight: int, rounds: int,
                 now: datetime) -> dict[str, Any]:
    mine = {_lane(i)[0] for i in range(in_flight, in_flight + WORKERS)}
    lease = now + timedelta(seconds=60)

    async def release(found: Any) -> None:
        await store.release([d.id for d in found])

    return {
        "claim_heads_unleased": await _time(
            rounds, lambda: store.claim_heads(now, WORKERS, mine, None, DESK)),
        "claim_heads_leased": await _time(
            rounds, lambda: store.claim_heads(now, WORKERS, mine, lease, DESK), release),
        "next_due_at": await _time(rounds, lambda: store.next_due_at(mine, TARGETS)),
        "next_due_at_all_targets": await _time(rounds, lambda: store.next_due_at(mine)),
        "overdue_heads_none": await _time(
            rounds, lambda: store.overdue_heads(now - timedelta(seconds=5), mine, TARGETS)),
        "overdue_heads_all": await _time(
            rounds, lambda: store.overdue_heads(now + timedelta(seconds=5), mine, TARGETS)),
    }


async def run(kind: str, lanes: int, per_lane: int, in_flight: int, done: int,
              rounds: int) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        if kind == "postgres":
            url = await stack.enter_async_context(pg_database())
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            url = f"sqlite://{Path(tmp) / 'claim.sqlite3'}"
        await migrate(url)
        db = await open_database(url, apply_migrations=False)
        try:
            store = DeliveryRepository()
            now = datetime.now(UTC)
            await _fill(store, lanes, per_lane, in_flight, done, now)
            looks = await _looks(store, lanes, in_flight, rounds, now)
        finally:
            await close_database(db)
    return {"relay": kind, "params": {
        "lanes": lanes, "pending_rows": lanes * per_lane, "lanes_in_flight": in_flight,
        "lanes_excluded": WORKERS, "done_rows": done, "limit": WORKERS, "rounds": rounds,
    }, **looks}


def main() -> None:
    parser = argparse.ArgumentParser(description="the outbox dispatcher's looks (JSON)")
    relay_arg(parser, floor=False)
    parser.add_argument("--lanes", type=int, default=200)
    parser.add_argument("--per-lane", type=int, default=5)
    parser.add_argument("--in-flight", type=int, default=24,
                        help="lanes whose first row another process is sending")
    parser.add_argument("--done", type=int, default=5000, help="delivered rows (history)")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    emit(f"claim_heads_{args.relay}", asyncio.run(run(
        args.relay, args.lanes, args.per_lane, args.in_flight, args.done, args.rounds)))


if __name__ == "__main__":
    main()

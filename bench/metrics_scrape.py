"""`/metrics` with a big desk: 10 000 open conversations, each with its history in the
outbox (5 delivered rows) and one row still pending, plus 2 000 SLA breaches. Times the
scrape as the HTTP part does it (refresh from the database, then render), in process, two
ways: `scrape` reads the database every time (what a Prometheus scraping every 15 s sees:
its scrapes are further apart than the 1 s the database values are kept), `back_to_back`
scrapes in a loop with the 1 s cache on (what a scrape storm costs).

    .venv/bin/python -m bench.metrics_scrape --relay sqlite|postgres [--conversations 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.databases import pg_database
from bench.relays import relay_arg
from bench.report import emit, summary_ms
from bots.metrics import Metrics
from storage.base import to_us
from storage.database import close_database, migrate, open_database
from storage.observe import ObservationStore


async def _fill(store: ObservationStore, conversations: int) -> None:
    now = datetime.now(UTC)
    raw = store._raw  # noqa: SLF001 - a benchmark filling tables in bulk
    chunk = 500
    for start in range(0, conversations, chunk):
        ids = range(start + 1, min(start + chunk, conversations) + 1)
        await raw("INSERT INTO customer (id, display_name, created_at) VALUES "
                  + ", ".join("(?, ?, ?)" for _ in ids),
                  [v for i in ids for v in (i, f"Customer {i}", store.dt_in(now))])
        await raw("INSERT INTO conversation (id, customer_id, channel, status, card_posted, "
                  "reply_identity_id, opened_at, open_key) VALUES "
                  + ", ".join("(?, ?, 'telegram', 'open', TRUE, 0, ?, ?)" for _ in ids),
                  [v for i in ids for v in (i, i, store.dt_in(now), i)])
        rows = [(i, status) for i in ids for status in ["done"] * 5 + ["pending"]]
        await raw("INSERT INTO delivery (lane, target, chat_id, action, conversation_id, "
                  "status, attempts, due_us, body, created_at) VALUES "
                  + ", ".join("(?, ?, ?, 'relay', ?, ?, 0, ?, '{}', ?)" for _ in rows),
                  [v for i, status in rows for v in (
                      f"desk:{i}", "desk" if i % 2 else "telegram", str(i), i, status,
                      to_us(now), store.dt_in(now))])
    await raw("INSERT INTO sla_breach (conversation_id, kind, seq, due_us, breached_us) VALUES "
              + ", ".join("(?, 'first', 1, ?, ?)" for _ in range(2000)),
              [v for i in range(2000) for v in (i + 1, to_us(now), to_us(now))])


async def _scrapes(url: str, conversations: int, rounds: int) -> dict[str, Any]:
    await migrate(url)
    db = await open_database(url, apply_migrations=False)
    try:
        store = ObservationStore()
        await _fill(store, conversations)
        cold, cold_body = await _time(Metrics(db_values_max_age=0), store, rounds)
        cached, _ = await _time(Metrics(), store, rounds)
        return {"scrape": {**cold, "body_bytes": cold_body}, "back_to_back": cached}
    finally:
        await close_database(db)


async def _time(metrics: Metrics, store: ObservationStore, rounds: int
                ) -> tuple[dict[str, Any], int]:
    times: list[float] = []
    body = b""
    for _ in range(rounds):
        started = time.perf_counter()
        await metrics.refresh(store)
        body = metrics.render()
        times.append(time.perf_counter() - started)
    return summary_ms(times), len(body)


async def run(kind: str, conversations: int, rounds: int) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        if kind == "postgres":
            url = await stack.enter_async_context(pg_database())
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            url = f"sqlite://{Path(tmp) / 'scrape.sqlite3'}"
        scrape = await _scrapes(url, conversations, rounds)
    return {"relay": kind, "params": {"open_conversations": conversations,
                                      "outbox_rows": conversations * 6, "sla_breaches": 2000,
                                      "scrapes": rounds}, **scrape}


def main() -> None:
    parser = argparse.ArgumentParser(description="/metrics scrape time (JSON)")
    relay_arg(parser, floor=False)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    emit(f"metrics_scrape_{args.relay}", asyncio.run(run(args.relay, args.conversations,
                                                          args.rounds)))


if __name__ == "__main__":
    main()

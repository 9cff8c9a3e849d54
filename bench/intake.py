"""Intake alone: customer messages committed per second, the outbox paused.

    .venv/bin/python -m bench.intake --db sqlite|postgres

Calls `IntakeService.relay_customer_to_desk` directly with `InboundCustomerMessage` values,
built as `bots/app.py` builds the service but with a no-op `wake` (nothing is delivered).
Every call is one committed transaction: dedup lookup, identity/customer upsert,
conversation, message, link, delivery row.

Phases (each on the same database, one after another):
- new customers: one first message from each of `--new` customers (creates customer,
  identity, conversation), sequentially;
- sequential: `--messages` messages round-robin over `--customers` existing customers, one
  call at a time;
- concurrent: the same number of messages, `--customers` customers writing at once (each
  customer's own messages in order, as the poller hands them over).
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

from bench.databases import pg_database, pg_settings
from bench.report import emit, log, summary_ms
from core.clock import SystemClock
from core.delivery.queue import Queue
from core.intake.service import DeskRef, IntakeService, Outcome
from core.lifecycle import Lifecycle
from core.model import Content, DeliveryStatus, InboundCustomerMessage, Profile
from core.unit import Transactions
from storage.database import close_database, migrate, open_database
from storage.store import TortoiseStore

DESK_CHAT = "-1001000000001"


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="relaydesk-bench-intake-") as tmp:
            yield f"sqlite://{Path(tmp) / 'relaydesk.sqlite3'}"
    else:
        async with pg_database("relaydesk_bench_intake") as url:
            yield url


class Customers:
    """Telegram-shaped inbound messages; each customer's message ids count up."""

    def __init__(self) -> None:
        self._next_msg: dict[int, int] = {}

    def message(self, user_id: int, text: str) -> InboundCustomerMessage:
        mid = self._next_msg.get(user_id, 0) + 1
        self._next_msg[user_id] = mid
        return InboundCustomerMessage(
            channel="telegram", user_id=str(user_id), chat_id=str(user_id),
            message_id=str(mid),
            profile=Profile(display_name=f"Customer {user_id}", username=f"c{user_id}",
                            language="en", link=f"tg://user?id={user_id}"),
            content=Content(content_type="text", text=text,
                            data={"has_caption": False, "entities": []}),
            sent_at=datetime.now(UTC),
        )


async def _timed(intake: IntakeService, msg: InboundCustomerMessage, lat: list[float]) -> None:
    t = time.perf_counter()
    result = await intake.relay_customer_to_desk(msg)
    lat.append(time.perf_counter() - t)
    if result.outcome is not Outcome.STORED:
        raise RuntimeError(f"intake answered {result.outcome} for a new message")


def _phase(count: int, elapsed: float, lat: list[float]) -> dict[str, Any]:
    return {"messages": count, "seconds": round(elapsed, 3),
            "messages_per_s": round(count / elapsed, 1), "per_call": summary_ms(lat)}


async def run(kind: str, *, new: int = 500, messages: int = 2000,
              customers: int = 50, synchronous: str | None = None) -> dict[str, Any]:
    async with database(kind) as url:
        await migrate(url)
        handle = await open_database(url, apply_migrations=False)
        try:
            store = TortoiseStore()
            # No outbox behind it: nothing is born claimed, nobody is woken.
            intake = IntakeService(store, Transactions(store, SystemClock()),
                                   Queue(store, DESK_CHAT), Lifecycle(),
                                   DeskRef("telegram", DESK_CHAT), timedelta(milliseconds=200))
            gen = Customers()
            settings: dict[str, Any] = {}
            if kind == "sqlite":
                from tortoise.connection import get_connection

                conn = get_connection("default")
                if synchronous is not None:  # override what relaydesk set, to compare
                    await conn.execute_script(f"PRAGMA synchronous={synchronous}")
                    settings["overridden_by_benchmark"] = f"synchronous={synchronous}"
                for pragma in ("journal_mode", "synchronous"):
                    _, rows = await conn.execute_query(f"PRAGMA {pragma}")
                    settings[pragma] = list(dict(rows[0]).values())[0]
            else:
                settings = await pg_settings()

            log(f"[intake:{kind}] {new} new customers")
            lat: list[float] = []
            t = time.perf_counter()
            for uid in range(1, new + 1):
                await _timed(intake, gen.message(uid, "hello"), lat)
            first = _phase(new, time.perf_counter() - t, lat)

            ids = list(range(1, min(customers, new) + 1))
            log(f"[intake:{kind}] {messages} messages, sequential")
            lat = []
            t = time.perf_counter()
            for n in range(messages):
                uid = ids[n % len(ids)]
                await _timed(intake, gen.message(uid, f"seq {n}"), lat)
            sequential = _phase(messages, time.perf_counter() - t, lat)

            log(f"[intake:{kind}] {messages} messages, {len(ids)} customers concurrently")
            lat = []
            per = messages // len(ids)

            async def customer(uid: int) -> None:
                for n in range(per):
                    await _timed(intake, gen.message(uid, f"conc {n}"), lat)

            t = time.perf_counter()
            await asyncio.gather(*(customer(uid) for uid in ids))
            concurrent = _phase(per * len(ids), time.perf_counter() - t, lat)
            concurrent["concurrent_customers"] = len(ids)

            pending = await store.count_deliveries(DeliveryStatus.PENDING)
            total = new + messages + per * len(ids)
        finally:
            await close_database(handle)
    return {
        "db": kind,
        "durability": settings,
        "params": {"new_customers": new, "messages": messages, "customers": len(ids),
                   "outbox": "paused (wake is a no-op)"},
        "new_customers": first,
        "sequential": sequential,
        "concurrent": concurrent,
        "deliveries_queued": pending,
        "deliveries_expected": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="intake throughput benchmark (prints JSON)")
    parser.add_argument("--db", "--relay", dest="db", choices=["sqlite", "postgres"],
                        default="sqlite")
    parser.add_argument("--new", type=int, default=500, help="first messages of new customers")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--sqlite-synchronous", choices=["OFF", "NORMAL", "FULL", "EXTRA"],
                        help="override SQLite's synchronous pragma (default: what relaydesk "
                             "sets), to see what durability costs")
    args = parser.parse_args()
    result = asyncio.run(run(args.db, new=args.new, messages=args.messages,
                             customers=args.customers, synchronous=args.sqlite_synchronous))
    suffix = f"-sync{args.sqlite_synchronous}" if args.sqlite_synchronous else ""
    emit(f"intake-{args.db}{suffix}", result)


if __name__ == "__main__":
    main()

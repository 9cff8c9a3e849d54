"""`bench.profile sql`: relaydesk in-process (the same `App` the CLI runs) against the
emulator, every database call tortoise makes metered (statements, BEGIN/COMMIT, wall time),
tagged intake or outbox by the asyncio task that made it. For each relayed message it reports
the timeline: intake (update delivered → its transaction committed), the outbox wake-up gap
(→ the outbox's first statement), outbox work until the copy request reaches the emulator,
and what the outbox still does after the copy. Figures are in-process (the emulator shares
the event loop), so use them for proportions and counts, not as the headline latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.databases import pg_database
from bench.relays import relaydesk_config
from bench.report import summary_ms
from bench.world import CopyIndex, World, landed, world

_METHODS = ("execute_insert", "execute_many", "execute_query", "execute_query_dict",
            "execute_script", "begin", "commit", "rollback")
_inside = contextvars.ContextVar("inside_db_call", default=False)


@dataclass
class DbEvent:
    start: float
    end: float
    who: str  # intake | outbox
    what: str  # statement | begin | commit | rollback


@dataclass
class DbMeter:
    events: list[DbEvent] = field(default_factory=list)
    _patched: list[tuple[type, str, Any]] = field(default_factory=list)

    @staticmethod
    def who() -> str:
        task = asyncio.current_task()
        name = task.get_name() if task else ""
        return "outbox" if name.startswith(("lane:", "outbox")) else "intake"

    def install(self) -> None:
        from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
        from tortoise.backends.base_postgres.client import BasePostgresClient
        from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

        for cls in (SqliteClient, SqliteTransactionWrapper, BasePostgresClient,
                    AsyncpgDBClient, TransactionWrapper):
            for name in _METHODS:
                if name in cls.__dict__:
                    original = cls.__dict__[name]
                    setattr(cls, name, self._wrap(original, name))
                    self._patched.append((cls, name, original))

        # relaydesk's SQLite engine runs raw statements on the loop thread (sync)
        from storage import sqlite_engine

        original_run = sqlite_engine.run

        def run(conn: Any, query: str, values: Any) -> Any:
            what = query.lower() if query in ("BEGIN", "COMMIT", "ROLLBACK") else "statement"
            start = time.monotonic()
            try:
                return original_run(conn, query, values)
            finally:
                self.events.append(DbEvent(start, time.monotonic(), self.who(), what))

        sqlite_engine.run = run  # type: ignore[assignment]
        self._patched.append((sqlite_engine, "run", original_run))  # type: ignore[arg-type]

    def uninstall(self) -> None:
        for cls, name, original in reversed(self._patched):
            setattr(cls, name, original)
        self._patched.clear()

    def _wrap(self, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        what = name if name in ("begin", "commit", "rollback") else "statement"

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _inside.get():
                return await fn(*args, **kwargs)
            token = _inside.set(True)
            start = time.monotonic()
            try:
                return await fn(*args, **kwargs)
            finally:
                _inside.reset(token)
                self.events.append(DbEvent(start, time.monotonic(), self.who(), what))

        return wrapper


def _timeline(events: list[DbEvent], t0: float, copy_start: float, copy_end: float
              ) -> dict[str, float | int]:
    intake = [e for e in events if e.who == "intake"]
    outbox = [e for e in events if e.who == "outbox"]
    commits = [e for e in intake if e.what == "commit"]
    intake_done = commits[-1].end if commits else (intake[-1].end if intake else t0)
    first_outbox = min((e.start for e in outbox), default=copy_start)

    def db_ms(evts: list[DbEvent], lo: float, hi: float) -> float:
        return sum(min(e.end, hi) - max(e.start, lo) for e in evts
                   if e.end > lo and e.start < hi) * 1000

    before = [e for e in outbox if e.start < copy_start]
    after = [e for e in outbox if e.start >= copy_end]
    return {
        "latency_ms": (copy_end - t0) * 1000,
        "intake_statements": sum(e.what == "statement" for e in intake),
        "intake_transactions": len(commits),
        "outbox_statements_before_copy": sum(e.what == "statement" for e in before),
        "outbox_transactions_before_copy": sum(e.what == "commit" for e in before),
        "outbox_statements_after_copy": sum(e.what == "statement" for e in after),
        "outbox_transactions_after_copy": sum(e.what == "commit" for e in after),
        "t0_to_intake_first_statement_ms": ((intake[0].start if intake else t0) - t0) * 1000,
        "intake_ms": (intake_done - (intake[0].start if intake else t0)) * 1000,
        "intake_db_ms": db_ms(intake, t0, intake_done + 1),
        "intake_commit_ms": sum(e.end - e.start for e in commits) * 1000,
        "wake_gap_ms": (first_outbox - intake_done) * 1000,
        "outbox_until_copy_request_ms": (copy_start - first_outbox) * 1000,
        "outbox_db_until_copy_request_ms": db_ms(before, first_outbox, copy_start),
        "copy_call_ms": (copy_end - copy_start) * 1000,
        "outbox_db_after_copy_ms": db_ms(after, copy_end, float("inf")),
    }


def _medians(rows: list[dict[str, float | int]]) -> dict[str, float]:
    if not rows:
        return {}
    return {k: round(summary_ms([r[k] / 1000 for r in rows])["p50_ms"], 3) for k in rows[0]}


@contextlib.asynccontextmanager
async def _db_url(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="relaydesk-bench-profile-") as tmp:
            yield f"sqlite://{Path(tmp) / 'relaydesk.sqlite3'}"
    else:
        async with pg_database("relaydesk_bench_profile") as url:
            yield url


async def _settled(app: Any) -> None:
    """Until no delivery is pending or in flight (the outbox has nothing left to do)."""
    from core.model import DeliveryStatus

    store = app.services.store
    while True:  # the database is the state polled: there is no event to wait on here
        if not (await store.count_deliveries(DeliveryStatus.PENDING)
                or await store.count_deliveries(DeliveryStatus.SENDING)):
            return
        await asyncio.sleep(0.005)


async def _measure(w: World, app: Any, meter: DbMeter, index: CopyIndex, send: Callable[[], Any],
                   dest: int, src: int) -> dict[str, float | int]:
    await _settled(app)
    await asyncio.sleep(0.02)
    meter.events.clear()
    t0 = time.monotonic()
    msg = await send()
    record = await index.wait(dest, src if src else msg["chat"]["id"], msg["message_id"])
    await asyncio.sleep(0.02)
    await _settled(app)
    await asyncio.sleep(0.02)
    return _timeline(list(meter.events), t0, record.time, landed(record))


async def run_sql(kind: str, samples: int = 50, first: int = 20) -> dict[str, Any]:
    from bots.app import App
    from bots.config import load_config_text
    from storage.database import migrate

    async with world() as w, _db_url(kind) as url:
        if kind == "postgres":
            await migrate(url)
        config = load_config_text(relaydesk_config(url, w.emu.base_url, w.group),
                                  source="bench-profile.yaml", env={})
        app = App(config)
        await app.start()
        meter = DbMeter()
        meter.install()
        try:
            emu, index = w.emu, CopyIndex(w.emu)
            warm = [w.customer("Warm") for _ in range(10)]
            topics = {}
            for c in warm:
                msg = await emu.user_send(c, c.id, text="hello")
                record = await index.wait(w.group, c.id, msg["message_id"])
                topics[c.id] = int(record.params["message_thread_id"])
            c2t, o2c, fm = [], [], []
            for n in range(samples):
                c = warm[n % len(warm)]
                c2t.append(await _measure(
                    w, app, meter, index,
                    lambda c=c, n=n: emu.user_send(c, c.id, text=f"c2t {n}"), w.group, c.id))
            for n in range(samples):
                c = warm[n % len(warm)]
                o2c.append(await _measure(
                    w, app, meter, index,
                    lambda c=c, n=n: emu.user_send(w.operator, w.group, text=f"o2c {n}",
                                                   thread_id=topics[c.id]), c.id, w.group))
            for n in range(first):
                c = w.customer("First")
                fm.append(await _measure(
                    w, app, meter, index,
                    lambda c=c, n=n: emu.user_send(c, c.id, text=f"first {n}"), w.group, c.id))
        finally:
            meter.uninstall()
            await app.stop()
    return {
        "db": kind,
        "note": "in-process (emulator and relay share one event loop): use for counts and "
                "proportions; medians per message",
        "customer_to_topic": _medians(c2t),
        "operator_to_customer": _medians(o2c),
        "first_message": _medians(fm),
    }

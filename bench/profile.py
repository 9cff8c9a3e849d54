"""Where relaydesk's time goes per message (diagnostics behind docs/benchmarks.md).

    .venv/bin/python -m bench.profile sql --db sqlite|postgres
    .venv/bin/python -m bench.profile pyspy --relay sqlite|postgres|floor --workload latency|burst

`sql` runs relaydesk in-process (the same `App` the CLI runs) against the emulator and
meters every database call tortoise makes (statements, BEGIN/COMMIT, wall time), tagged
intake or outbox by the asyncio task that made it. For each relayed message it reports the
timeline: intake (update delivered → its transaction committed), the outbox wake-up gap
(→ the outbox's first statement), outbox work until the copy request reaches the emulator,
and what the outbox still does after the copy. Figures are in-process (the emulator shares
the event loop), so use them for proportions and counts, not as the headline latency.

`pyspy` runs the relay as a subprocess (like the other benchmarks), attaches py-spy
(`PYSPY=/path/to/py-spy` or on PATH; `pip install py-spy`) while the latency or burst
workload runs, and sums the samples of the relay's main thread by where they are:
event loop idle, database (tortoise + driver), aiogram/pydantic, aiohttp, relaydesk's own
code, asyncio. Raw stacks are kept in bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import functools
import json
import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import RESULTS
from bench.databases import pg_database
from bench.relays import relay_arg, relaydesk_config, running_relay
from bench.report import emit, summary_ms
from bench.world import CopyIndex, World, landed, world

# ---- sql: metering tortoise in-process -------------------------------------------------------

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


# ---- pyspy: sampling the relay subprocess ----------------------------------------------------

CATEGORIES = (  # by the file of the innermost frame (py-spy prints paths relative to sys.path)
    ("event loop idle", ("selectors.py",)),
    ("database driver (asyncpg/aiosqlite/sqlite3)", ("asyncpg/", "aiosqlite/", "sqlite3/")),
    ("tortoise ORM + pypika", ("tortoise/", "pypika")),
    ("pydantic", ("pydantic",)),
    ("aiogram", ("aiogram/",)),
    ("aiohttp client", ("aiohttp/", "yarl/", "multidict/")),
    ("json", ("json/",)),
    ("relaydesk code", ("core/", "adapters/", "storage/", "bots/", "bench/")),
    ("asyncio machinery", ("asyncio/",)),
)
INCLUSIVE = (
    ("inside storage/ (all DB work: repositories, ORM, driver)", "storage/"),
    ("inside tortoise (ORM + driver)", "tortoise/"),
    ("inside aiogram (update parsing, dispatch, API calls)", "aiogram/"),
    ("inside core/intake/", "core/intake/"),
    ("inside core/delivery/", "core/delivery/"),
    ("inside adapters/telegram/polling.py", "adapters/telegram/polling.py"),
)


def _frame_file(frame: str) -> str:
    """py-spy raw frames look like "Class.name (path/to/file.py:123)"."""
    return frame.rsplit(" (", 1)[-1].rstrip(")").rsplit(":", 1)[0]


def _category(path: str) -> str | None:
    for name, prefixes in CATEGORIES:
        if path.startswith(prefixes) or (name == "event loop idle" and path in prefixes):
            return name
    return None


def categorise(stacks: Counter[str]) -> dict[str, Any]:
    """Main-thread samples by category of the innermost frame ("self"), and inclusive
    shares of a few subsystems, as % of the samples where the loop was not idle."""
    selfs: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for stack, count in stacks.items():
        frames = stack.split(";")
        if not frames[0].endswith("MainThread"):
            continue
        total += count
        files = [_frame_file(f) for f in frames[1:]]
        category = next((c for c in map(_category, reversed(files)) if c), "other")
        selfs[category] += count
        if category == "event loop idle":
            continue
        for name, needles in INCLUSIVE:
            if any(f.startswith(tuple(needles.split("|"))) for f in files):
                inclusive[name] += count
        for frame, path in set(zip(frames[1:], files, strict=True)):
            if path.startswith(("core/", "adapters/", "storage/")):
                functions[f"{frame.rsplit(' (', 1)[0]} ({path})"] += count
    busy = total - selfs["event loop idle"]
    others: dict[str, Counter[str]] = {}
    for stack, count in stacks.items():
        frames = stack.split(";")
        if frames[0].endswith("MainThread") or len(frames) < 2:
            continue
        others.setdefault(frames[0].split(": ", 1)[-1], Counter())[frames[-1]] += count

    def pct(n: int) -> float:
        return round(100 * n / busy, 1) if busy else 0.0

    return {
        "main_thread_samples": total,
        "busy_share_of_wall_pct": round(100 * busy / total, 1) if total else 0.0,
        "self_time_pct_of_busy": {k: pct(v) for k, v in selfs.most_common()
                                  if k != "event loop idle"},
        "inclusive_pct_of_busy": {k: pct(v) for k, v in inclusive.most_common()},
        "top_project_functions_inclusive_pct_of_busy": {
            k: pct(v) for k, v in functions.most_common(15)},
        # e.g. aiosqlite's worker: where it sits (queue wait = idle; sqlite3 calls = the
        # SQL itself, fsync included), as % of the main thread's wall-clock samples
        "other_threads_leaf_frames_pct_of_wall": {
            name: {leaf: round(100 * n / total, 1) for leaf, n in leaves.most_common(5)}
            for name, leaves in others.items()} if total else {},
    }


async def run_pyspy(relay_kind: str, workload: str, rate: int = 500) -> dict[str, Any]:
    pyspy = os.environ.get("PYSPY") or shutil.which("py-spy")
    if not pyspy:
        raise SystemExit("py-spy not found: pip install py-spy, or set PYSPY=/path/to/py-spy")
    from bench import relay_latency

    out = RESULTS / f"profile-{relay_kind}-{workload}.raw.txt"
    RESULTS.mkdir(parents=True, exist_ok=True)
    async with world() as w, running_relay(relay_kind, w) as relay:
        spy = await asyncio.create_subprocess_exec(
            pyspy, "record", "--pid", str(relay.pid), "--rate", str(rate), "--format", "raw",
            "--idle", "--threads", "--output", str(out),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.sleep(1.0)
            index = CopyIndex(w.emu)
            t = time.monotonic()
            if workload == "latency":
                # 30 customers: 10 messages each, under the default flood limit (20 in 10 s
                # per sender), which would otherwise combine the excess instead of copying it.
                warm = [w.customer("Warm") for _ in range(30)]
                for c in warm:
                    m = await w.emu.user_send(c, c.id, text="hello")
                    await index.wait(w.group, c.id, m["message_id"])
                await relay_latency._customer_to_topic(w, relay, index, warm, 300, 0.0)
            else:
                for _ in range(3):
                    users = [w.customer("Burst") for _ in range(50)]

                    async def one(u: Any) -> list[int]:
                        return [int((await w.emu.user_send(u, u.id, text=f"m{j}"))["message_id"])
                                for j in range(5)]

                    ids = await asyncio.gather(*(one(u) for u in users))
                    keys = [(w.group, u.id, mid) for u, mids in zip(users, ids, strict=True)
                            for mid in mids]
                    await w.emu.wait_for(lambda keys=keys: all(index.get(*k) for k in keys), 60)
            workload_s = time.monotonic() - t
            await asyncio.sleep(0.3)
        finally:
            with contextlib.suppress(ProcessLookupError):
                spy.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(spy.wait(), 30)
            except TimeoutError:
                spy.kill()
                await spy.wait()
    return {"relay": relay_kind, "workload": workload, "workload_s": round(workload_s, 2),
            "rate_hz": rate, "raw_stacks": str(out.relative_to(RESULTS.parents[1])),
            **categorise(read_raw(out))}


def read_raw(path: Path) -> Counter[str]:
    stacks: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[stack] += int(count)
    return stacks


def main() -> None:
    parser = argparse.ArgumentParser(description="per-message cost diagnostics (prints JSON)")
    sub = parser.add_subparsers(dest="mode", required=True)
    sql = sub.add_parser("sql", help="meter tortoise calls per message, in-process")
    sql.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    sql.add_argument("--samples", type=int, default=50)
    spy = sub.add_parser("pyspy", help="sample the relay subprocess with py-spy")
    relay_arg(spy)
    spy.add_argument("--workload", choices=["latency", "burst"], default="latency")
    spy.add_argument("--rate", type=int, default=500)
    analyse = sub.add_parser("analyse", help="summarise a raw py-spy file again")
    analyse.add_argument("raw", type=Path)
    args = parser.parse_args()
    if args.mode == "analyse":
        print(json.dumps(categorise(read_raw(args.raw)), indent=2, ensure_ascii=False))
    elif args.mode == "sql":
        emit(f"profile-sql-{args.db}", asyncio.run(run_sql(args.db, args.samples)))
    else:
        emit(f"profile-pyspy-{args.relay}-{args.workload}",
             asyncio.run(run_pyspy(args.relay, args.workload, args.rate)))


if __name__ == "__main__":
    main()

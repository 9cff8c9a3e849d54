"""What every benchmark shares: the emulator world, the relay under test as a subprocess,
throwaway PostgreSQL databases, a copy index over the emulator's request log, statistics
and JSON output.

The Telegram emulator lives in the benchmark process; each relay (the aiogram floor relay,
relaydesk on SQLite, relaydesk on PostgreSQL) runs as its own subprocess, so its peak RSS
(`VmHWM`) is its own. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sandbox.telegram import RequestRecord, TelegramEmulator, UserRecord

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
TOKEN = "424242:BenchToken-x9Y7"
RELAYS = ("floor", "sqlite", "postgres")
PG_ADMIN_URL = os.environ.get(
    "RELAYDESK_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
# "Rate limits off": relaydesk's modelled limits wide open, the emulator's disabled.
OPEN_LIMITS = (
    "{private_chat: {count: 1000, per: 1s}, group: {count: 1000, per: 1s}, "
    "bot: {count: 1000, per: 1s}}"
)
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# SIGTERM unwinds a benchmark like Ctrl+C does, so its relay subprocess is stopped and its
# throwaway database dropped on the way out.
with contextlib.suppress(ValueError):  # not in the main thread
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)


# ---- output -------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("aiogram", "tortoise-orm", "asyncpg", "aiosqlite", "aiohttp"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[package] = version(package)
    info["packages"] = versions
    info["revision"] = revision()
    with contextlib.suppress(OSError):
        info["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    return info


def revision() -> dict[str, Any]:
    """Which relaydesk code was measured: the commit, and files changed on top of it (the
    benchmarks themselves excepted). An exported tree (`git archive`) carries a REVISION
    file instead."""
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":!bench", ":!docs/benchmarks.md"],
            cwd=ROOT, check=True, capture_output=True, text=True).stdout.splitlines()
        return {"commit": commit, "uncommitted_changes": [c[3:] for c in changed]}
    except (OSError, subprocess.CalledProcessError):
        with contextlib.suppress(OSError):
            return {"commit": (ROOT / "REVISION").read_text().strip(), "exported_tree": True}
    return {"commit": None}


def background_cpu(seconds: float = 1.0) -> float:
    """Share (0–1) of all CPUs busy over `seconds`, from /proc/stat (other sessions' work
    on a shared machine shows up here)."""
    def sample() -> tuple[int, int]:
        parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = parts[3] + parts[4]
        return sum(parts), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_quiet(threshold: float = 0.25, max_wait: float = 180.0) -> float:
    """Wait (bounded) until the machine is mostly idle before measuring; returns the busy
    share seen last, so results can say how quiet the machine was."""
    deadline = time.monotonic() + max_wait
    busy = background_cpu()
    while busy > threshold and time.monotonic() < deadline:
        log(f"machine busy ({busy:.0%} of all CPUs); waiting before measuring")
        time.sleep(5)
        busy = background_cpu()
    return round(busy, 3)


def emit(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Print the result as JSON on stdout and keep it in bench/results/<name>.json."""
    data = {"benchmark": name, "machine": machine_info(), **data}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    print(text)
    return data


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the JSON document."""
    print(message, file=sys.stderr, flush=True)


# ---- statistics ---------------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"samples": 0}
    return {
        "samples": len(ms),
        "p50_ms": round(quantile(ms, 0.50), 3),
        "p90_ms": round(quantile(ms, 0.90), 3),
        "p99_ms": round(quantile(ms, 0.99), 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
    }


# ---- the emulator world -------------------------------------------------------------------


@dataclass
class World:
    emu: TelegramEmulator
    group: int
    bot_id: int
    operator: UserRecord
    _names: int = 0

    def customer(self, prefix: str = "Customer") -> UserRecord:
        self._names += 1
        n = self._names
        return self.emu.add_user(first_name=f"{prefix}{n}", last_name="Bench",
                                 username=f"{prefix.lower()}{n}", language_code="en")


@contextlib.asynccontextmanager
async def world() -> AsyncIterator[World]:
    emu = TelegramEmulator()
    await emu.start(host="127.0.0.1", port=0)
    try:
        bot = emu.add_bot(TOKEN, username="bench_relay_bot")
        group = emu.create_supergroup(title="Support", forum=True, bot_admin=True,
                                      can_manage_topics=True)
        operator = emu.add_user(first_name="Olga", last_name="Operator", language_code="en")
        emu.add_member(group, operator)
        yield World(emu, group, int(bot.id), operator)
    finally:
        await emu.stop()


class CopyIndex:
    """(destination chat, source chat, source message id) → the emulator's RequestRecord of
    the copyMessage/copyMessages call that put the copy there. Scans the request log
    incrementally; copies seen more than once are counted in `duplicates`."""

    def __init__(self, emu: TelegramEmulator) -> None:
        self.emu = emu
        self._pos = 0
        self.found: dict[tuple[int, int, int], RequestRecord] = {}
        self.duplicates: dict[tuple[int, int, int], int] = {}

    def scan(self) -> None:
        records = self.emu.requests
        while self._pos < len(records):
            record = records[self._pos]
            self._pos += 1
            if not record.ok or record.method not in ("copyMessage", "copyMessages"):
                continue
            dest = int(record.chat_id) if record.chat_id is not None else 0
            src = int(record.params["from_chat_id"])
            if record.method == "copyMessage":
                ids = [int(record.params["message_id"])]
            else:
                raw = record.params["message_ids"]
                ids = [int(i) for i in (json.loads(raw) if isinstance(raw, str) else raw)]
            for mid in ids:
                key = (dest, src, mid)
                if key in self.found:
                    self.duplicates[key] = self.duplicates.get(key, 1) + 1
                else:
                    self.found[key] = record

    def get(self, dest: int, src: int, mid: int) -> RequestRecord | None:
        self.scan()
        return self.found.get((dest, src, mid))

    async def wait(self, dest: int, src: int, mid: int, within: float = 10.0,
                   alive: Callable[[], None] | None = None) -> RequestRecord:
        def ready() -> RequestRecord | None:
            if alive is not None:
                alive()
            return self.get(dest, src, mid)

        return await self.emu.wait_for(ready, within, f"copy of {src}/{mid} into {dest}")


def landed(record: RequestRecord) -> float:
    """When the emulator finished the call (the copy exists), monotonic seconds."""
    return record.time + record.duration


def calls_by_method(emu: TelegramEmulator, since: int = 0) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in emu.requests[since:]:
        if record.method == "getUpdates":
            continue
        key = record.method if record.ok else f"{record.method}:{record.status}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


# ---- throwaway PostgreSQL databases -------------------------------------------------------


def _asyncpg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.asynccontextmanager
async def pg_database(prefix: str = "relaydesk_bench") -> AsyncIterator[str]:
    """A fresh database on the PostgreSQL of RELAYDESK_BENCH_PG_URL, dropped afterwards."""
    import asyncpg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(_asyncpg_url(PG_ADMIN_URL))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield _with_db(PG_ADMIN_URL, name)
    finally:
        conn = await asyncpg.connect(_asyncpg_url(PG_ADMIN_URL))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def pg_settings() -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_url(PG_ADMIN_URL))
    try:
        out = {"version": str(await conn.fetchval("SHOW server_version"))}
        for name in ("fsync", "synchronous_commit", "wal_sync_method"):
            out[name] = str(await conn.fetchval(f"SHOW {name}"))
        return out
    finally:
        await conn.close()


# ---- the relay under test -----------------------------------------------------------------


# Surge handling (spare topics, a new customer's card and first message in one post,
# coalescing) is on by default since issue 16; these benchmarks measure the relay one message
# per post, as their earlier figures were taken and as an idle desk behaves, and wait for
# each message's own copy. bench.surge swaps this block for its own.
OUTBOX = "outbox:\n  album_wait: 200ms\n  spare_topics: 0\n  coalesce: false\n"


def relaydesk_config(db_url: str, api: str, chat_id: int, limits: str = OPEN_LIMITS) -> str:
    return f"""storage:
  url: "{db_url}"
telegram:
  token: "{TOKEN}"
  api_server: "{api}"
  poll_timeout: 1s
  limits: {limits}
operators:
  chat_id: {chat_id}
{OUTBOX}logging:
  level: WARNING
"""


@dataclass
class RelayProcess:
    """One relay subprocess: `floor` (bench/floor_relay.py) or relaydesk (`sqlite`,
    `postgres`, run exactly as `python -m bots run -c FILE`)."""

    kind: str
    world: World
    workdir: Path
    limits: str = OPEN_LIMITS
    wrap: Sequence[str] = ()  # e.g. a profiler command line put before the python one
    db_url: str | None = None
    extra_config: str = ""  # YAML sections appended to the config (e.g. vk)
    telegram_extra: str = ""  # more `telegram:` keys, indented lines (e.g. webhook mode)
    proc: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    peak_rss_kb: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.kind}.log"

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        return ""

    async def _run_cli(self, *args: str) -> None:
        with self.log_path.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                PYTHON, "-m", "bots", *args, cwd=ROOT, stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:
                code = await asyncio.wait_for(proc.wait(), START_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise
        if code != 0:
            raise RuntimeError(f"relaydesk {' '.join(args)} exited {code}:\n{self.log_tail()}")

    async def start(self) -> None:
        emu = self.world.emu
        if self.kind == "floor":
            cmd = [PYTHON, "-m", "bench.floor_relay", "--api", emu.base_url, "--token", TOKEN,
                   "--group", str(self.world.group)]
        else:
            assert self.db_url is not None, "relaydesk needs db_url"
            config = self.workdir / "config.yaml"
            text = relaydesk_config(self.db_url, emu.base_url, self.world.group, self.limits)
            text = text.replace("  limits: ", self.telegram_extra + "  limits: ", 1)
            config.write_text(text + self.extra_config, encoding="utf-8")
            if self.kind == "postgres":
                await self._run_cli("migrate", "-c", str(config))
            cmd = [PYTHON, "-m", "bots", "run", "-c", str(config)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        loop = asyncio.get_running_loop()
        self.started_at = loop.time()
        with self.log_path.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.wrap, *cmd, cwd=ROOT, env=env, stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        # Polling, or (webhook mode) the webhook set: updates reach the relay from now on.
        polls = lambda: any(r.method in ("getUpdates", "setWebhook")  # noqa: E731
                            for r in emu.requests)
        try:
            await emu.wait_for(lambda: polls() or self.exited(), START_TIMEOUT,
                               f"{self.kind} relay starts polling")
        except TimeoutError:
            raise RuntimeError(f"{self.kind} relay did not start:\n{self.log_tail()}") from None
        if self.exited():
            raise RuntimeError(f"{self.kind} relay exited {self.proc.returncode}:\n"
                               f"{self.log_tail()}")

    def exited(self) -> bool:
        return self.proc is not None and self.proc.returncode is not None

    def check_alive(self) -> None:
        """For wait predicates: fail fast (not after the timeout) when the relay died."""
        if self.exited():
            assert self.proc is not None
            raise RuntimeError(f"{self.kind} relay exited {self.proc.returncode}:\n"
                               f"{self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def read_peak_rss_kb(self) -> int | None:
        """VmHWM of the relay's python process (the high-water mark of its RSS)."""
        if self.proc is None or self.exited():
            return self.peak_rss_kb
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_rss_kb = int(line.split()[1])
        return self.peak_rss_kb

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the relay process (all its threads) has used so far."""
        if self.proc is None or self.exited():
            return None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()  # fields[0] is the state, field 3 of stat(5)
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> int | None:
        """SIGTERM (relaydesk stops gracefully), then SIGKILL after STOP_TIMEOUT."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            self.read_peak_rss_kb()
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return proc.returncode


@contextlib.asynccontextmanager
async def running_relay(kind: str, w: World, *, limits: str = OPEN_LIMITS,
                        wrap: Sequence[str] = (), extra_config: str = "",
                        telegram_extra: str = "") -> AsyncIterator[RelayProcess]:
    """Start the relay of `kind` against world `w` (with its own fresh database) and stop it,
    whatever happens, on the way out."""
    if kind not in RELAYS:
        raise ValueError(f"relay must be one of {RELAYS}, got {kind!r}")
    with tempfile.TemporaryDirectory(prefix=f"relaydesk-bench-{kind}-") as tmp:
        workdir = Path(tmp)
        async with contextlib.AsyncExitStack() as stack:
            db_url = None
            if kind == "sqlite":
                db_url = f"sqlite://{workdir / 'relaydesk.sqlite3'}"
            elif kind == "postgres":
                db_url = await stack.enter_async_context(pg_database())
            relay = RelayProcess(kind, w, workdir, limits=limits, wrap=wrap, db_url=db_url,
                                 extra_config=extra_config, telegram_extra=telegram_extra)
            try:
                await relay.start()
                yield relay
            finally:
                code = await relay.stop()
                relay.extra["exit_code"] = code
                if code not in (0, None, -signal.SIGTERM):
                    log(f"{kind} relay exited {code}; log tail:\n{relay.log_tail(2000)}")


def peak_mb(relay: RelayProcess) -> float | None:
    kb = relay.read_peak_rss_kb()
    return round(kb / 1024, 1) if kb is not None else None


def relay_arg(parser: Any, *, floor: bool = True) -> None:
    choices = list(RELAYS) if floor else ["sqlite", "postgres"]
    parser.add_argument("--relay", "--db", dest="relay", choices=choices, default="sqlite",
                        help="which relay to run: " + ", ".join(choices))

"""`bench.profile pyspy`: the relay as a subprocess (like the other benchmarks), py-spy
(`PYSPY=/path/to/py-spy` or on PATH; `pip install py-spy`) attached while the latency or burst
workload runs; the samples of the relay's main thread summed by where they are: event loop
idle, database (tortoise + driver), aiogram/pydantic, aiohttp, relaydesk's own code, asyncio.
Raw stacks are kept in bench/results/ (`bench.profile analyse` reads one again).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import RESULTS
from bench.relays import running_relay
from bench.world import CopyIndex, world

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

"""What a benchmark reports: one JSON document on stdout (kept in bench/results/) with the
machine it ran on and how busy that was, progress on stderr, and the statistics its figures
are given in."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT

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

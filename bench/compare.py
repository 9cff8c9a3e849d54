"""Two revisions side by side, in one go: the latency and burst benchmarks, interleaved.

    .venv/bin/python -m bench.compare --before /path/to/checkout [--rounds 3]

`--before` is another checkout of relaydesk (a `git worktree` of the earlier revision, set up
with `bash scripts/setup.sh`); this checkout is "after". Each round runs, for each database,
`bench.relay_latency` and `bench.burst` of before, then of after (then the other way round
in the next round), each as its own subprocess with its checkout's own virtualenv, so both
revisions meet the same machine weather. Prints one JSON document: every run, the median of
the rounds per revision, and after/before as a ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench.common import ROOT
from bench.report import emit, log, wait_quiet

DBS = ("sqlite", "postgres")


def _run(checkout: Path, module: str, db: str) -> dict[str, Any]:
    python = checkout / ".venv" / "bin" / "python"
    cmd = [str(python), "-m", f"bench.{module}", "--relay", db]
    wait_quiet()
    log(f"[compare] {checkout.name}: {module} {db}")
    done = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, timeout=1800,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} in {checkout}: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout))


def _figures(latency: dict[str, Any], burst: dict[str, Any]) -> dict[str, float]:
    # CPU per message is the steadier figure on a shared machine: latency moves with the
    # neighbours' load, the work done per message much less.
    return {"c2t_p50_ms": latency["customer_to_topic"]["p50_ms"],
            "o2c_p50_ms": latency["operator_to_customer"]["p50_ms"],
            "c2t_cpu_ms": latency["relay_cpu_ms_per_message"]["customer_to_topic"],
            "burst_ms": burst["total_ms"],
            "burst_cpu_ms": burst["relay_cpu_ms_per_message"]}


def _revision(checkout: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout,
                          capture_output=True, text=True, check=True).stdout.strip()


def compare(before: Path, rounds: int) -> dict[str, Any]:
    sides = {"before": before, "after": ROOT}
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        side: {db: [] for db in DBS} for side in sides}
    for n in range(rounds):
        order = list(sides) if n % 2 == 0 else list(reversed(sides))
        for db in DBS:
            for side in order:
                checkout = sides[side]
                runs[side][db].append(_figures(_run(checkout, "relay_latency", db),
                                               _run(checkout, "burst", db)))
    medians = {side: {db: {key: statistics.median(r[key] for r in runs[side][db])
                           for key in runs[side][db][0]} for db in DBS} for side in sides}
    ratio = {db: {key: round(medians["after"][db][key] / medians["before"][db][key], 3)
                  for key in medians["after"][db]} for db in DBS}
    return {"revisions": {side: _revision(path) for side, path in sides.items()},
            "rounds": rounds, "runs": runs, "medians": medians, "after_over_before": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description="compare two revisions (prints JSON)")
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    emit("compare", compare(args.before.resolve(), args.rounds))


if __name__ == "__main__":
    main()

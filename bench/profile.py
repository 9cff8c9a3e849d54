"""Where relaydesk's time goes per message (diagnostics behind docs/benchmarks.md).

    .venv/bin/python -m bench.profile sql --db sqlite|postgres
    .venv/bin/python -m bench.profile pyspy --relay sqlite|postgres|floor --workload latency|burst
    .venv/bin/python -m bench.profile analyse bench/results/profile-….raw.txt

`sql` meters the database calls per message in-process (bench.profile_sql); `pyspy` samples
the relay subprocess with py-spy (bench.profile_pyspy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from bench.profile_pyspy import categorise, read_raw, run_pyspy
from bench.profile_sql import run_sql
from bench.relays import relay_arg
from bench.report import emit


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

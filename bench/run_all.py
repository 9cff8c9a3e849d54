"""Every benchmark, one after another, as one JSON document (plus a Markdown summary).

    .venv/bin/python -m bench.run_all [--window 6] [--skip-rate-limited]

Runs each benchmark as its own `python -m bench.…` subprocess (so each relay and each
in-process intake run starts clean), then puts the figures side by side: floor relay,
relaydesk on SQLite, relaydesk on PostgreSQL, the ratio to the floor from this same run, and
the targets of the performance issue with a pass/fail each. Writes
bench/results/run_all.json and bench/results/run_all.md; prints the JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from typing import Any

from bench.common import PYTHON, RESULTS, ROOT
from bench.report import emit, log, wait_quiet

DBS = ("sqlite", "postgres")


def _bench(module: str, *args: str) -> dict[str, Any]:
    cmd = [PYTHON, "-m", f"bench.{module}", *args]
    busy_before = wait_quiet()
    log(f"$ {' '.join(['python', *cmd[1:]])}")
    started = time.monotonic()
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as child:
        try:
            stdout, stderr = child.communicate(timeout=3600)
        except BaseException:
            # Let the benchmark stop its relay and drop its database before giving up on it.
            child.terminate()
            try:
                child.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
            raise
    proc = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    if proc.returncode != 0:
        log(f"FAILED: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
        return {"error": f"exited {proc.returncode}", "stderr_tail": proc.stderr[-2000:],
                "command": f".venv/bin/python -m bench.{module} {' '.join(args)}"}
    data: dict[str, Any] = json.loads(proc.stdout)
    data.pop("machine", None)
    data["command"] = f".venv/bin/python -m bench.{module} {' '.join(args)}".strip()
    data["wall_s"] = round(time.monotonic() - started, 1)
    data["machine_busy_before_pct"] = round(busy_before * 100, 1)
    return data


def _ratio(value: float | None, floor: float | None) -> float | None:
    if value is None or not floor:
        return None
    return round(value / floor, 2)


def _row(figure: str, unit: str, values: dict[str, float | None], target: str,
         ok: Any = None, floor_applies: bool = True) -> dict[str, Any]:
    floor = values.get("floor") if floor_applies else None
    row: dict[str, Any] = {"figure": figure, "unit": unit, "target": target,
                           "floor": floor}
    for db in DBS:
        row[db] = values.get(db)
        row[f"{db}_ratio_to_floor"] = _ratio(values.get(db), floor)
        row[f"{db}_ok"] = ok(values.get(db), floor) if ok and values.get(db) is not None \
            else None
    return row


def _ok_only(results: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: v for k, v in runs.items() if "error" not in v}
            for name, runs in results.items()}


def summarise(results: dict[str, Any]) -> list[dict[str, Any]]:
    results = _ok_only(results)
    lat, burst = results["relay_latency"], results["burst"]
    rows = []
    for key, label in (("customer_to_topic", "customer→topic"),
                       ("operator_to_customer", "operator→customer")):
        for stat, limit in (("p50_ms", 2.5), ("p99_ms", 10.0)):
            vals = {k: v[key][stat] for k, v in lat.items()}
            rows.append(_row(f"{label} {stat[:3]}", "ms", vals, f"≤ {limit} ms",
                             lambda v, _f, lim=limit: v <= lim))
        for stat in ("p90_ms", "max_ms"):
            vals = {k: v[key][stat] for k, v in lat.items()}
            rows.append(_row(f"{label} {stat[:3]}", "ms", vals, "—"))
    for stat in ("p50_ms", "p99_ms"):
        vals = {k: v["first_message"][stat] for k, v in lat.items()}
        rows.append(_row(f"new customer's first message {stat[:3]}", "ms", vals, "≤ 15 ms",
                         lambda v, _f: v <= 15.0))
    vals = {k: v["total_ms"] / 1000 for k, v in burst.items()}
    rows.append(_row("burst 50×5 fully relayed", "s", vals, "≤ 0.5 s",
                     lambda v, _f: v <= 0.5))
    vals = {k: v["relay_cpu_ms_per_message"] for k, v in burst.items()}
    rows.append(_row("burst: relay CPU per message (all threads)", "ms", vals, "—"))
    vals = {k: v["relay_cpu_ms_per_message"]["customer_to_topic"] for k, v in lat.items()}
    rows.append(_row("one at a time: relay CPU per customer→topic message", "ms", vals, "—"))
    vals = {k: v["missing"] + v["duplicates"] + v["customers_out_of_order"]
            + v["customers_split_across_topics"] for k, v in burst.items()}
    rows.append(_row("burst: missing + duplicate + out of order + split", "count", vals, "0",
                     lambda v, _f: v == 0, floor_applies=False))
    if results.get("intake"):
        for phase in ("sequential", "concurrent", "new_customers"):
            vals = {k: v[phase]["messages_per_s"] for k, v in results["intake"].items()}
            target = "≥ 1000 /s" if phase != "new_customers" else "—"
            ok = (lambda v, _f: v >= 1000) if phase != "new_customers" else None
            rows.append(_row(f"intake alone, {phase.replace('_', ' ')}", "msg/s", vals,
                             target, ok, floor_applies=False))
    if results.get("rate_limited"):
        rl = results["rate_limited"]
        vals = {k: v["total_s"] for k, v in rl.items()}
        minimum = next(iter(rl.values()))["minimum_s"]
        rows.append(_row(f"rate limits on, 30×3 total (minimum {minimum:g} s)", "s", vals,
                         f"≤ {minimum * 1.1:g} s (+10 %)",
                         lambda v, _f: v <= minimum * 1.1, floor_applies=False))
        vals = {k: v["violations"] for k, v in rl.items()}
        rows.append(_row("rate limits on: violations", "count", vals, "0",
                         lambda v, _f: v == 0, floor_applies=False))
    if results.get("vk"):
        rows += _vk_rows(results["vk"], lat.get("floor"))
    if results.get("max"):
        rows += _max_rows(results["max"])
    peaks = {k: max(lat[k]["peak_rss_mb"], burst[k]["peak_rss_mb"]) for k in lat
             if k in burst}
    rows.append(_row("peak RSS (max of latency and burst runs)", "MB", peaks,
                     "≤ floor + 40 MB", lambda v, f: f is not None and v - f <= 40))
    return rows


def _vk_rows(vk: dict[str, Any], floor: dict[str, Any] | None) -> list[dict[str, Any]]:
    """VK customer→topic against the floor's customer→topic (the same client stack on the
    desk side), and answers at VK's 20 requests/s."""
    rows = []
    for stat, limit in (("p50_ms", 3.0), ("p99_ms", 12.0)):
        vals: dict[str, float | None] = {
            k: v["latency"]["vk_customer_to_topic"][stat] for k, v in vk.items()}
        vals["floor"] = floor["customer_to_topic"][stat] if floor else None
        rows.append(_row(f"VK customer→topic {stat[:3]}", "ms", vals, f"≤ {limit:g} ms",
                         lambda v, _f, lim=limit: v <= lim))
    answers = {k: v["answers_at_20_per_s"] for k, v in vk.items()}
    rows.append(_row("VK: 100 answers at 20 req/s, first written → last sent", "s",
                     {k: a["seconds_first_answer_to_last_send"] for k, a in answers.items()},
                     "≈ 5 s", lambda v, _f: v <= 5.5, floor_applies=False))
    rows.append(_row("VK: most requests in any 1 s window / violations", "count",
                     {k: a["max_requests_in_any_1s_window"] + a["emulator_rate_violations"]
                      for k, a in answers.items()}, "≤ 20 / 0",
                     lambda v, _f: v <= 20, floor_applies=False))
    return rows


def _max_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """MAX customer→topic and operator→customer, and answers at MAX's 30 requests/s."""
    rows = []
    for name, key in (("customer→topic", "max_customer_to_topic"),
                      ("operator→customer", "operator_to_max_customer")):
        for stat, limit in (("p50_ms", 3.0), ("p99_ms", 12.0)):
            vals: dict[str, float | None] = {
                k: v["latency"][key][stat] for k, v in results.items()}
            rows.append(_row(f"MAX {name} {stat[:3]}", "ms", vals, f"≤ {limit:g} ms",
                             lambda v, _f, lim=limit: v <= lim, floor_applies=False))
    answers = {k: v["answers_at_30_per_s"] for k, v in results.items()}
    minimum = next(iter(answers.values()))["minimum_seconds_at_30_per_s"]
    rows.append(_row(f"MAX: 100 answers at 30 req/s (minimum {minimum:g} s)", "s",
                     {k: a["seconds_first_answer_to_last_send"] for k, a in answers.items()},
                     f"≤ {minimum * 1.1:.3g} s (+10 %)",
                     lambda v, _f: v <= minimum * 1.1, floor_applies=False))
    rows.append(_row("MAX: requests over the limit (violations + 429s)", "count",
                     {k: a["emulator_rate_violations"] + a["rejected_429"]
                      for k, a in answers.items()}, "0",
                     lambda v, _f: v == 0, floor_applies=False))
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| figure | floor | SQLite | × floor | PostgreSQL | × floor | target | SQLite | PG |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        mark = {True: "✅", False: "❌", None: "—"}
        lines.append(
            f"| {r['figure']} ({r['unit']}) | {_fmt(r['floor'])} | {_fmt(r['sqlite'])} | "
            f"{_fmt(r['sqlite_ratio_to_floor'])} | {_fmt(r['postgres'])} | "
            f"{_fmt(r['postgres_ratio_to_floor'])} | {r['target']} | "
            f"{mark[r['sqlite_ok']]} | {mark[r['postgres_ok']]} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="run every benchmark (prints JSON)")
    parser.add_argument("--window", type=float, default=6.0,
                        help="rate-limited benchmark group window in seconds (60 = full size)")
    parser.add_argument("--skip-rate-limited", action="store_true")
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-vk", action="store_true")
    parser.add_argument("--skip-max", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    results: dict[str, Any] = {"relay_latency": {}, "burst": {}}
    for relay in ("floor", *DBS):
        results["relay_latency"][relay] = _bench("relay_latency", "--relay", relay)
        results["burst"][relay] = _bench("burst", "--relay", relay)
    if not args.skip_intake:
        results["intake"] = {db: _bench("intake", "--db", db) for db in DBS}
    if not args.skip_rate_limited:
        results["rate_limited"] = {
            db: _bench("rate_limited", "--relay", db, "--window", f"{args.window:g}")
            for db in DBS
        }
    if not args.skip_vk:
        results["vk"] = {db: _bench("vk", "--relay", db) for db in DBS}
    if not args.skip_max:
        results["max"] = {db: _bench("max", "--relay", db) for db in DBS}
    rows = summarise(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "run_all.md").write_text(markdown(rows), encoding="utf-8")
    emit("run_all", {
        "command": ".venv/bin/python -m bench.run_all"
                   + (f" --window {args.window:g}" if args.window != 6.0 else ""),
        "rate_limited_window_s": None if args.skip_rate_limited else args.window,
        "wall_s": round(time.monotonic() - started, 1),
        "summary": rows,
        "results": results,
    })


if __name__ == "__main__":
    main()

"""Several relaydesk processes on one PostgreSQL: does a burst go faster, and do they keep
the group's budget as well as one process?

    .venv/bin/python -m bench.processes [--processes 1,2,3] [--customers 200] [--messages 5]
                                        [--only burst|paced] [--window 3]

Each configuration gets a fresh emulator and a fresh PostgreSQL database, and runs N
`python -m bots run` processes in webhook mode behind a round-robin proxy that lives in this
process (the emulator pushes every update to the proxy, the proxy to the next process), so
the updates spread evenly without any of them polling.

- `burst`, limits off: `--customers` new customers each send `--messages` texts at once
  (as bench.burst does). The figure is the time from the first send to the last copy landed
  in the group; `speedup` is one process's time over N processes' time.
- `paced`, the group's limit modelled (both in the emulator and in relaydesk's
  `telegram.limits`, bench.rate_limited's shape: group 20 per `--window` s): 30 customers ×
  3 texts; the minimum the budget allows is (⌈units / 20⌉ − 1) × window, units = topic +
  card + copies per customer. `ratio_to_minimum` of N processes against one's, and the
  violations (sends during an announced retry_after) and 429 answers.

Every run is checked: each message copied once, in its customer's order, one topic per
customer. CPU seconds are given per side over the burst: the relay processes, this process
(the emulator, the proxy and the customers), and PostgreSQL's backends serving the run's
database, next to the wall time × cores: the machine's two cores are shared by all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench.databases import pg_database
from bench.ports import free_ports
from bench.rate_limited import GROUP_COUNT, limits_for
from bench.relays import OPEN_LIMITS, RelayProcess
from bench.report import emit, log, summary_ms
from bench.webhook_proxy import RoundRobin
from bench.world import CopyIndex, World, calls_by_method, landed, world

SECRET = "bench-processes-secret"
HOOK = "/tg"
MAX_CONNECTIONS = 40  # Telegram's webhook concurrency, the same for every process count
READY_TIMEOUT = 180.0
# "Limits off" as bench.relays' OPEN_LIMITS (1 000 per second) keeps up to a second of sends
# in the shared limiter's `rate_slot` rows, and every send counts its keys' rows: ~760 rows
# read per message in a 1 000-message burst. The same 1 000 per 10 ms is as open and keeps a
# window of a few rows (`--open-limits wide` for bench.relays').
NARROW_OPEN_LIMITS = ("{private_chat: {count: 1000, per: 10ms}, group: {count: 1000, per: 10ms}, "
                      "bot: {count: 1000, per: 10ms}}")


class TimedRoundRobin(RoundRobin):
    """The proxy, keeping when each customer update was taken and how long its webhook call
    took."""

    def __init__(self, ports: Sequence[int]) -> None:
        super().__init__(ports)
        # (answered at, seconds it took) of customers' updates taken (the group's service
        # messages, e.g. a topic created, come as updates too: left out)
        self.answers: list[tuple[float, float]] = []

    def taken(self, port: int, body: bytes, started: float) -> None:
        now = time.monotonic()
        if b'"type": "private"' in body or b'"type":"private"' in body:
            self.answers.append((now, now - started))


async def _ready(port: int, relay: RelayProcess) -> None:
    """/readyz answers 200: the database answers and Telegram has the webhook."""
    deadline = time.monotonic() + READY_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while True:
            relay.check_alive()
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                    if answer.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"relay on port {port} not ready:\n{relay.log_tail()}")
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def cluster(w: World, count: int, limits: str, db_url: str, workdir: Path
                  ) -> AsyncIterator[tuple[list[RelayProcess], TimedRoundRobin]]:
    """`count` webhook-mode relaydesk processes on `db_url` behind a round-robin proxy."""
    ports = free_ports(count)
    proxy = TimedRoundRobin(ports)
    public = await proxy.start()
    relays = []
    for index, port in enumerate(ports):
        home = workdir / f"p{index}"
        home.mkdir()
        relays.append(RelayProcess(
            "postgres", w, home, limits=limits, db_url=db_url,
            extra_config=f"http: {{listen: '127.0.0.1:{port}', public_url: '{public}'}}\n",
            telegram_extra=(f"  mode: webhook\n  webhook: {{path: {HOOK}, secret: {SECRET}, "
                            f"max_connections: {MAX_CONNECTIONS}}}\n")))
    try:
        await relays[0].start()  # migrates the database first
        await asyncio.gather(*(r.start() for r in relays[1:]))
        await asyncio.gather(*(_ready(port, r) for port, r in zip(ports, relays, strict=True)))
        yield relays, proxy
    finally:
        for relay in relays:
            code = await relay.stop()
            if code not in (0, None, -15):
                log(f"relay exited {code}:\n{relay.log_tail(2000)}")
        await proxy.stop()


class CpuMeter:
    """CPU seconds of the relays, of this process and of the database's backends."""

    def __init__(self, relays: Sequence[RelayProcess], db_url: str) -> None:
        self._relays = relays
        self._db_name = db_url.rsplit("/", 1)[1]
        self._start: dict[str, float] = {}
        self._backends: dict[int, float] = {}

    def start(self) -> None:
        self._backends = _backends(self._db_name)
        self._start = self._sample()

    def _sample(self) -> dict[str, float]:
        return {"relays": sum(r.cpu_seconds() or 0.0 for r in self._relays),
                "bench": time.process_time()}

    def stop(self, wall: float) -> dict[str, Any]:
        end = self._sample()
        used = {k: round(end[k] - self._start[k], 2) for k in end}
        # A backend that came meanwhile counts from zero; one that left is not seen.
        backends = _backends(self._db_name)
        used["postgres"] = round(sum(cpu - self._backends.get(pid, 0.0)
                                     for pid, cpu in backends.items()), 2)
        return {"cpu_s": used, "wall_s": round(wall, 2),
                "cores_busy": round(sum(used.values()) / wall, 2) if wall else None,
                "postgres_backends": len(backends)}


def _backends(db_name: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `db_name`, found by its process title
    ("postgres: … USER DB HOST(PORT) …"): PostgreSQL's own view needs a connection, and
    the shared server may have none to spare."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {db_name} " in title:
            found[int(entry.name)] = _pid_cpu(int(entry.name))
    return found


async def _db_stats(db_url: str) -> dict[str, int] | None:
    """The database's transaction and row counters (pg_stat_database); None when the
    shared server has no connection to spare."""
    import asyncpg

    try:
        conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    except (OSError, asyncpg.PostgresError) as exc:
        log(f"no database statistics: {exc}")
        return None
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, "
            "tup_updated, tup_deleted FROM pg_stat_database WHERE datname = "
            "current_database()")
        tables = await conn.fetch(
            "SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n, "
            "coalesce(seq_scan, 0) AS seq FROM pg_stat_user_tables")
    finally:
        await conn.close()
    if row is None:
        return None
    # rows read per table (sequential + index fetches): which statements walk many rows
    return {**{k: int(v) for k, v in dict(row).items()},
            **{f"read:{t['relname']}": int(t["n"]) for t in tables},
            **{f"seq_scans:{t['relname']}": int(t["seq"]) for t in tables}}


def _pid_cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _send_all(w: World, customers: int, per_customer: int, tag: str,
                    ) -> tuple[list[Any], dict[int, list[int]]]:
    users = [w.customer(f"{tag}x") for _ in range(customers)]
    sent: dict[int, list[int]] = {}

    async def one(i: int) -> None:
        for j in range(per_customer):
            msg = await w.emu.user_send(users[i], users[i].id, text=f"{tag}{i:03d}-m{j}")
            sent.setdefault(i, []).append(int(msg["message_id"]))

    await asyncio.gather(*(one(i) for i in range(customers)))
    return users, sent


def _check(w: World, tag: str, customers: int, per_customer: int) -> dict[str, int]:
    """What operators see: every message once, in order, one topic per customer."""
    copies = [m for m in w.emu.messages(w.group, from_bot=True)
              if str(m.get("text", "")).startswith(tag)]
    counts = Counter(m["text"] for m in copies)
    wanted = {f"{tag}{i:03d}-m{j}" for i in range(customers) for j in range(per_customer)}
    split = disorder = 0
    for i in range(customers):
        mine = [m for m in copies if m["text"].startswith(f"{tag}{i:03d}-")]
        split += len({m.get("message_thread_id") for m in mine}) > 1
        order = list(dict.fromkeys(m["text"] for m in mine))
        disorder += order != sorted(order)
    return {"missing": len(wanted - set(counts)),
            "duplicates": sum(n - 1 for n in counts.values()),
            "customers_split_across_topics": split, "customers_out_of_order": disorder}


async def _run_load(w: World, relays: Sequence[RelayProcess], proxy: TimedRoundRobin,
                    db_url: str, tag: str, customers: int, per_customer: int, wait_s: float
                    ) -> dict[str, Any]:
    index = CopyIndex(w.emu)
    index.scan()
    since = len(w.emu.requests)
    meter = CpuMeter(relays, db_url)
    meter.start()
    stats0 = await _db_stats(db_url)
    answered = len(proxy.answers)
    t0 = time.monotonic()
    users, sent = await _send_all(w, customers, per_customer, tag)
    all_sent = time.monotonic() - t0
    expected = [(w.group, users[i].id, mid) for i, ids in sent.items() for mid in ids]

    def all_copied() -> bool:
        for relay in relays:
            relay.check_alive()
        index.scan()
        return all(key in index.found for key in expected)

    complete = True
    try:
        await w.emu.wait_for(all_copied, wait_s, "every message copied")
    except TimeoutError:
        complete = False
    records = [index.found[k] for k in expected if k in index.found]
    finished = max((landed(r) for r in records), default=time.monotonic())
    cpu = meter.stop(finished - t0)
    answers = proxy.answers[answered:]
    await asyncio.sleep(1.0)  # a late duplicate would show up here; statistics are flushed
    stats1 = await _db_stats(db_url)
    if stats0 and stats1:
        per = {k: round((stats1[k] - stats0.get(k, 0)) / len(expected), 2) for k in stats1}
        cpu["database_per_message"] = {k: v for k, v in per.items()
                                       if ":" not in k or v >= (1 if k[0] == "r" else 0.05)}
    return {"complete": complete, "total_s": round(finished - t0, 3),
            "customers_done_sending_s": round(all_sent, 3),
            # the last customer update taken (its 200), how long each webhook call took
            "intake_done_s": round(max((a for a, _ in answers), default=t0) - t0, 3),
            "webhook_answer": summary_ms([d for _, d in answers]),
            **_check(w, tag, customers, per_customer), **cpu,
            "responses_429": sum(1 for r in w.emu.requests[since:] if r.status == 429),
            "violations": len(w.emu.violations),
            "bot_api_calls": calls_by_method(w.emu, since)}


async def burst(count: int, customers: int, per_customer: int, limits: str
                ) -> dict[str, Any]:
    """Limits off: a warm-up of 20 customers, then the burst."""
    async with world() as w, pg_database() as db_url, contextlib.AsyncExitStack() as stack:
        w.emu.options.webhook_allow_http = True
        w.emu.options.webhook_retry_delay = 0.1
        tmp = stack.enter_context(_tempdir())
        relays, proxy = await stack.enter_async_context(
            cluster(w, count, limits, db_url, tmp))
        log(f"[processes] {count} process(es) ready; warm-up")
        await _run_load(w, relays, proxy, db_url, "warm", 20, 2, 120)
        log(f"[processes] {count}: burst of {customers} × {per_customer}")
        result = await _run_load(w, relays, proxy, db_url, "b", customers, per_customer, 600)
        result["updates_per_process"] = sorted(proxy.forwarded.values())
        result["webhook_statuses"] = dict(proxy.statuses)
        return result


async def paced(count: int, window: float, customers: int = 30,
                per_customer: int = 3) -> dict[str, Any]:
    """The group's limit modelled (bench.rate_limited's shape, scaled to `window`)."""
    limits, yaml = limits_for(window)
    units = customers * (2 + per_customer)
    minimum = (math.ceil(units / GROUP_COUNT) - 1) * limits["group"][1]
    async with world() as w, pg_database() as db_url, contextlib.AsyncExitStack() as stack:
        w.emu.options.webhook_allow_http = True
        w.emu.options.webhook_retry_delay = 0.1
        tmp = stack.enter_context(_tempdir())
        relays, proxy = await stack.enter_async_context(cluster(w, count, yaml, db_url, tmp))
        w.emu.set_rate_limits(True, private=limits["private"], group=limits["group"],
                              bot=limits["bot"])
        log(f"[processes] {count}: paced {customers} × {per_customer}, minimum {minimum:.1f}s")
        result = await _run_load(w, relays, proxy, db_url, "p", customers, per_customer,
                                 minimum * 3 + 60)
        result["webhook_statuses"] = dict(proxy.statuses)
        result["minimum_s"] = round(minimum, 3)
        result["ratio_to_minimum"] = round(result["total_s"] / minimum, 4)
        return result


@contextlib.contextmanager
def _tempdir() -> Any:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="relaydesk-bench-processes-") as tmp:
        yield Path(tmp)


async def run(counts: Sequence[int], customers: int, per_customer: int, only: str | None,
              window: float, open_limits: str) -> dict[str, Any]:
    out: dict[str, Any] = {"params": {
        "processes": list(counts), "customers": customers, "messages_per_customer":
        per_customer, "mode": "webhook behind a round-robin proxy", "database": "postgres",
        "max_connections": MAX_CONNECTIONS, "paced_window_s": window,
        "open_limits": open_limits, "loadavg_before": list(os.getloadavg())}}
    if only in (None, "burst"):
        limits = NARROW_OPEN_LIMITS if open_limits == "narrow" else OPEN_LIMITS
        runs = {str(n): await burst(n, customers, per_customer, limits) for n in counts}
        base = runs[str(counts[0])]["total_s"]
        for result in runs.values():
            result["speedup"] = round(base / result["total_s"], 3) if result["total_s"] else None
        out["burst"] = runs
    if only in (None, "paced"):
        out["paced"] = {str(n): await paced(n, window) for n in counts}
    out["loadavg_after"] = list(os.getloadavg())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="several processes on PostgreSQL (JSON)")
    parser.add_argument("--processes", default="1,2,3",
                        help="process counts to run, the first is the baseline")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5, help="messages per customer")
    parser.add_argument("--only", choices=["burst", "paced"])
    parser.add_argument("--window", type=float, default=3.0,
                        help="paced: the group window in seconds (20 sends per window)")
    parser.add_argument("--open-limits", choices=["narrow", "wide"], default="narrow",
                        help="burst: relaydesk's open limits, 1000 per 10 ms (narrow) or per "
                             "1 s (wide, bench.relays')")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    emit("processes", asyncio.run(run(counts, args.customers, args.messages, args.only,
                                      args.window, args.open_limits)))


if __name__ == "__main__":
    main()

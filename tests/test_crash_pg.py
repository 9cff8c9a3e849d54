"""PostgreSQL, two processes: one is killed with rows in flight, the other sends them within
seconds (a dead process's advisory lock is gone at once), not one lease later.

Process A is `relaydesk run` (it polls and delivers); process B is the same App in this
test's process with its poller stopped (it only delivers), both on one database. The
lease is the default 30 s, so only the liveness check can explain a quick recovery.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bots.app import App
from tests.dbs import PgDatabase
from tests.harness import Desk, relay_config
from tests.test_crash import _start, _stop, _write_config

CUSTOMERS, MESSAGES = 20, 5
RECOVERY_BOUND = 3.0  # seconds from the kill: the bound, ~3x what it takes here


def _copies(desk: Desk) -> list[dict[str, Any]]:
    return [m for m in desk.messages() if m.get("from", {}).get("is_bot")
            and str(m.get("text", "")).startswith("k")]


async def _count(app: App, query: str) -> int:
    assert app.services is not None
    rows = await app.services.store._raw(query, [])
    return int(rows[0]["n"])


async def test_a_killed_process_rows_are_sent_by_the_other_within_seconds(
    desk: Desk, pg_database: PgDatabase, tmp_path: Path
) -> None:
    url = await pg_database.fresh()
    config, log = tmp_path / "config.yaml", tmp_path / "relaydesk.log"
    _write_config(config, url, desk.emu.base_url, desk.group, lease="30s")
    # Every post into the group takes 300 ms: sends are on the wire when A is killed.
    desk.emu.inject_delay("*", 0.3, None, chat_id=desk.group)
    b = App(relay_config(url, desk.emu.base_url, desk.group))  # the default lease: 30 s
    await b.start()
    assert b.services is not None
    b.services.poller.stop()  # B only delivers; A polls
    customers = [desk.customer(f"Kill{i}") for i in range(CUSTOMERS)]
    expected = {f"k{i:02d}-m{j}" for i in range(CUSTOMERS) for j in range(MESSAGES)}
    a = await _start(config, log)
    try:
        await desk.wait(lambda: any(r.method.lower() == "getupdates" and r.time > 0
                                    for r in desk.emu.requests[-5:]), timeout=30)
        for j in range(MESSAGES):
            await asyncio.gather(*(c.says(f"k{i:02d}-m{j}") for i, c in enumerate(customers)))
        stored = "SELECT COUNT(*) AS n FROM message WHERE kind = 'customer'"
        while await _count(b, stored) < CUSTOMERS * MESSAGES:  # noqa: ASYNC110 - A's commits
            await asyncio.sleep(0.05)
        await desk.wait(lambda: len(_copies(desk)) >= 25, timeout=30)
        a.send_signal(signal.SIGKILL)
        await a.wait()
        killed = time.monotonic()
        held = await b.services.store._raw(
            "SELECT id FROM delivery WHERE status = 'sending' AND owner IS NOT NULL"
            " AND owner <> ?", [_owner(b)])
        ids = ", ".join(str(r["id"]) for r in held) or "0"
        open_rows = f"SELECT COUNT(*) AS n FROM delivery WHERE id IN ({ids}) AND status <> 'done'"
        while await _count(b, open_rows) and time.monotonic() - killed < 60:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        recovered = time.monotonic() - killed
        await desk.wait(lambda: {m["text"] for m in _copies(desk)} >= expected, timeout=60)
    finally:
        await _stop(a)
        await b.stop()
    counts = Counter(m["text"] for m in _copies(desk))
    duplicates = sum(n - 1 for n in counts.values())
    print(f"\nkill test: {len(held)} rows in flight at the kill, sent again "
          f"{recovered:.2f}s after it, {duplicates} duplicates")
    assert held, "the kill caught rows in flight (else this test proves nothing)"
    assert recovered < RECOVERY_BOUND, f"{recovered:.1f}s: the lease (30 s), not liveness"
    assert set(counts) == expected


def _owner(app: App) -> int:
    from tortoise.connection import get_connection

    owner = getattr(get_connection("default"), "owner", None)
    assert owner is not None
    return int(owner)

"""Rate limits shared through PostgreSQL: two limiters (two processes' worth) on one key
never let more than the window's count through together."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.ports import RateKey
from storage.database import close_database, open_database
from storage.shared_limits import SharedLimiter

KEY = RateKey("tg:chat:-100123", 3, 1.0)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_two_limiters_hold_one_window_together(db_url: str) -> None:
    db = await open_database(db_url, apply_migrations=False)
    try:
        first, second = SharedLimiter(margin=0.0), SharedLimiter(margin=0.0)
        sent: list[tuple[float, str]] = []

        async def send(limiter: SharedLimiter, name: str) -> None:
            recorded = await limiter.acquire([KEY])
            sent.append((time.monotonic(), name))
            limiter.settle([KEY], 1, recorded)

        await asyncio.gather(*(send(first if i % 2 else second, "ab"[i % 2])
                               for i in range(9)))
        times = sorted(t for t, _ in sent)
        # Sliding check: any 4 consecutive sends span at least the window (minus clock
        # granularity and the event loop's lateness in noting a send).
        spans = [times[i + KEY.count] - times[i] for i in range(len(times) - KEY.count)]
        assert min(spans) >= KEY.window * 0.8, spans
        assert {name for _, name in sent} == {"a", "b"}
        await asyncio.sleep(0.05)  # the settles land
    finally:
        await close_database(db)

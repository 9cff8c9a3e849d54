"""Rate limits shared through PostgreSQL: two limiters (two processes' worth) on one key
never let more than the window's count through together — also when one of them was alone
(deciding in memory) before the other came, and when a lone one starts after another left."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.ports import RateKey
from storage.database import close_database, open_database
from storage.shared_limits import SharedLimiter

KEY = RateKey("tg:chat:-100123", 3, 1.0)


def assert_window_held(times: list[float], key: RateKey = KEY) -> None:
    # Sliding check: any count+1 consecutive sends span at least the window (minus clock
    # granularity and the event loop's lateness in noting a send).
    times = sorted(times)
    spans = [times[i + key.count] - times[i] for i in range(len(times) - key.count)]
    assert spans and min(spans) >= key.window * 0.8, spans


async def send(limiter: SharedLimiter, sent: list[tuple[float, str]], name: str,
               key: RateKey = KEY) -> None:
    recorded = await limiter.acquire([key])
    sent.append((time.monotonic(), name))
    limiter.settle([key], 1, recorded)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_two_limiters_hold_one_window_together(db_url: str) -> None:
    db = await open_database(db_url, apply_migrations=False)
    first, second = SharedLimiter(margin=0.0), SharedLimiter(margin=0.0)
    try:
        sent: list[tuple[float, str]] = []
        await asyncio.gather(*(send(first if i % 2 else second, sent, "ab"[i % 2])
                               for i in range(9)))
        assert_window_held([t for t, _ in sent])
        assert {name for _, name in sent} == {"a", "b"}
    finally:
        await first.drain()
        await second.drain()
        await close_database(db)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_lone_limiter_decides_in_memory_and_a_newcomer_still_sees_its_sends(
        db_url: str) -> None:
    db = await open_database(db_url, apply_migrations=False)
    lone, newcomer = SharedLimiter(margin=0.0), SharedLimiter(margin=0.0)
    try:
        sent: list[tuple[float, str]] = []
        for _ in range(KEY.count - 1):  # the lone limiter decides in memory
            await send(lone, sent, "lone")
            assert lone.presence.alone()
        assert lone._background  # its slots are written in the background
        # A newcomer sees the lone one and waits for it before its first slot, until the
        # lone one has checked again and takes its slots in the database too (else the
        # lone one's memory, not knowing the newcomer's send, would let a 4th through).
        await asyncio.gather(send(newcomer, sent, "new"), send(newcomer, sent, "new"),
                             send(lone, sent, "lone"), send(lone, sent, "lone"))
        assert not newcomer.presence.alone() and not lone.presence.alone()
        assert_window_held([t for t, _ in sent])
        assert [n for _, n in sent].count("new") == 2
    finally:
        await lone.drain()
        await newcomer.drain()
        await close_database(db)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_limiter_alone_takes_over_the_slots_of_one_that_stopped(db_url: str) -> None:
    key = RateKey("max:bot:abc", 2, 1.5)
    db = await open_database(db_url, apply_migrations=False)
    gone, later = SharedLimiter(margin=0.0), SharedLimiter(margin=0.0)
    try:
        sent: list[tuple[float, str]] = []
        for _ in range(key.count):
            await send(gone, sent, "gone", key)
        await gone.drain()  # stopped: its slots stay in the database, its mark is gone
        assert not gone.presence.alone()
        await send(later, sent, "later", key)
        assert later.presence.alone()
        assert_window_held([t for t, _ in sent], key)
    finally:
        await gone.drain()
        await later.drain()
        await close_database(db)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_lone_send_is_written_and_its_settle_moves_it(db_url: str) -> None:
    """Decided in memory, a send's slot still reaches rate_slot, at the send's completion
    once settled (as a slot taken in the database is moved)."""
    from tortoise.connection import get_connection

    db = await open_database(db_url, apply_migrations=False)
    lone = SharedLimiter(margin=0.0)
    try:
        async def slot_times() -> list[int]:
            rows = await get_connection("default").execute_query_dict(
                "SELECT at_us FROM rate_slot WHERE key = $1", [KEY.key])
            return [r["at_us"] for r in rows]

        recorded = await lone.acquire([KEY])
        assert lone.presence.alone()
        for _ in range(100):  # written in the background
            if await slot_times():
                break
            await asyncio.sleep(0.01)
        [taken] = await slot_times()
        await asyncio.sleep(0.3)  # the "call" takes 0.3 s
        lone.settle([KEY], 1, recorded)
        await lone.drain()
        [settled] = await slot_times()
        assert settled - taken >= 250_000
    finally:
        await lone.drain()
        await close_database(db)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_short_lone_send_is_written_once(db_url: str) -> None:
    """A lone send settled at once keeps its slot's row at its start: one statement per send
    (and the key's rows older than its window go, as with every take)."""
    from tortoise.connection import get_connection

    db = await open_database(db_url, apply_migrations=False)
    lone = SharedLimiter(margin=0.0)
    conn = get_connection("default")
    try:
        await conn.execute_query(
            "INSERT INTO rate_slot (key, at_us) VALUES ($1, (extract(epoch FROM "
            "clock_timestamp()) * 1000000)::BIGINT - 10000000)", [KEY.key])
        moves = 0
        settle = lone._slots.settle

        async def counted_settle(ids: list[int]) -> None:
            nonlocal moves
            moves += 1
            await settle(ids)

        lone._slots.settle = counted_settle  # type: ignore[method-assign]
        for _ in range(KEY.count):
            recorded = await lone.acquire([KEY])
            lone.settle([KEY], 1, recorded)
        assert lone.presence.alone()
        await lone.drain()
        rows = await conn.execute_query_dict(
            "SELECT at_us FROM rate_slot WHERE key = $1", [KEY.key])
        assert len(rows) == KEY.count  # the old row went
        assert moves == 0
    finally:
        await lone.drain()
        await close_database(db)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_idle_work_sees_the_other_processes_sends(db_url: str) -> None:
    """Spare topics and title marks go only while a quarter of the window is free. The
    others' sends are not in this process's memory: the database's window decides (a
    spare made on memory alone went into a window the others had filled)."""
    key = RateKey("tg:chat:-100124", 8, 1.0)
    headroom = 3  # a quarter of 8, plus one
    db = await open_database(db_url, apply_migrations=False)
    busy, idle = SharedLimiter(margin=0.0), SharedLimiter(margin=0.0)
    try:
        await busy.presence.start()
        await idle.presence.start()

        async def sharing() -> None:  # each has seen the other at a background check
            while not (busy.presence.may_share() and idle.presence.may_share()):  # noqa: ASYNC110 - no event: set by their background checks
                await asyncio.sleep(0.05)

        await asyncio.wait_for(sharing(), 10)
        sent: list[tuple[float, str]] = []
        for _ in range(key.count - headroom + 1):  # 6 of 8: 2 places free, 3 asked
            await send(busy, sent, "busy", key)
        assert idle.delay([key], headroom) <= 0  # its own memory says idle
        assert await idle.take_if_idle([key], headroom) is None
        await asyncio.sleep(key.window + 0.2)  # the busy window has passed
        recorded = await idle.take_if_idle([key], headroom)
        assert recorded is not None
        idle.settle([key], 1, recorded)
    finally:
        await busy.drain()
        await idle.drain()
        await close_database(db)

"""The modelled rate limiter: same shape as the platform's window, no real sleeping."""

from __future__ import annotations

import pytest

from core.delivery.ratelimit import SlidingWindowLimiter, batch_cap
from core.ports import RateKey


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


GROUP = RateKey("tg:chat:-1001", 20, 60.0)
BOT = RateKey("tg:bot", 30, 1.0)


def test_window_allows_count_then_waits_for_the_oldest_to_expire() -> None:
    clock = FakeTime()
    limiter = SlidingWindowLimiter(clock, margin=0.0)
    for _ in range(20):
        assert limiter.delay([GROUP, BOT]) == 0
        limiter.record([GROUP, BOT])
        clock.t += 0.5
    # 20 sends in 10 s: the 21st must wait until the first leaves the 60 s window.
    assert limiter.delay([GROUP]) == 50.0
    clock.t += 50.0
    assert limiter.delay([GROUP]) == 0


def test_batch_counts_every_message() -> None:
    clock = FakeTime()
    limiter = SlidingWindowLimiter(clock, margin=0.0)
    limiter.record([GROUP], 15)
    assert limiter.delay([GROUP], 5) == 0
    assert limiter.delay([GROUP], 6) == 60.0
    assert batch_cap([GROUP, BOT], 100) == 20


def test_pause_blocks_the_key_until_retry_after_ends() -> None:
    clock = FakeTime()
    limiter = SlidingWindowLimiter(clock, margin=0.1)
    limiter.pause(GROUP.key, 7)
    assert limiter.delay([GROUP]) == pytest.approx(7.1)
    assert limiter.delay([RateKey("tg:chat:5", 1, 1.0)]) == 0  # other chats unaffected
    clock.t += 7.11
    assert limiter.delay([GROUP]) == 0


async def test_acquire_waits_for_real_and_records() -> None:
    import time

    limiter = SlidingWindowLimiter(margin=0.0)
    key = RateKey("k", 2, 0.05)
    start = time.monotonic()
    stamps = [await limiter.acquire([key]) for _ in range(3)]
    assert stamps[1] - start < 0.05
    assert stamps[2] - stamps[0] >= 0.05  # the third waited for the first to leave


def test_settled_sends_count_from_completion() -> None:
    clock = FakeTime()
    limiter = SlidingWindowLimiter(clock, margin=0.0)
    key = RateKey("k", 1, 1.0)
    recorded = limiter.record([key])
    clock.t += 0.4  # the call took 400 ms: the platform counted it on arrival
    limiter.settle([key], 1, recorded)
    assert limiter.delay([key]) == pytest.approx(1.0)

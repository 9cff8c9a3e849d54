"""Modelled platform rate limits: sliding windows per key, plus pauses announced by the
platform (Telegram's `retry_after`). Nothing is sent to a key before its pause ends."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence

from core.errors import RetryAfter
from core.ports import RateKey


class Interrupted(Exception):
    """A wait for a rate-limit window was cut short: the process is stopping, and a send
    that has not started goes back to the queue instead of waiting out the window."""


class WaitTooLong(RetryAfter):
    """The window would open later than the caller's `patience`: nothing was recorded, the
    send goes back to the queue, due when the window opens (not a pause the platform asked
    for). A lane gives its worker back this way (see core.delivery.desks.Desks.patience)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds, None, f"the budget is used up for {seconds:.1f}s")


class SlidingWindowLimiter:
    """At most `count` sends per `window` seconds per key.

    A small safety `margin` is added to every window because the platform measures on
    arrival, a little after we measured on departure.
    """

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, margin: float = 0.05
    ) -> None:
        self._now = monotonic
        self._margin = margin
        self._sent: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}
        self._interrupted = asyncio.Event()

    def delay(self, keys: Sequence[RateKey], n: int = 1) -> float:
        """Seconds until `n` sends to all `keys` are allowed (0 when allowed now)."""
        now = self._now()
        wait = 0.0
        for rk in keys:
            wait = max(wait, self._paused_until.get(rk.key, 0.0) - now)
            sent = self._sent.get(rk.key)
            if not sent:
                continue
            window = rk.window + self._margin
            while sent and sent[0] <= now - window:
                sent.popleft()
            over = len(sent) + min(n, rk.count) - rk.count
            if over > 0:
                wait = max(wait, sent[over - 1] + window - now)
        return max(wait, 0.0)

    def record(self, keys: Sequence[RateKey], n: int = 1) -> float:
        now = self._now()
        for rk in keys:
            sent = self._sent.setdefault(rk.key, deque())
            sent.extend([now] * n)
        return now

    def settle(self, keys: Sequence[RateKey], n: int, recorded: float) -> None:
        """Move `n` sends recorded at `recorded` to now, when the call has completed.

        The platform counts a send when it arrives, which on a busy machine can be well after
        we reserved it; counting from completion keeps our window behind the platform's.
        """
        now = self._now()
        for rk in keys:
            sent = self._sent.get(rk.key)
            if not sent:
                continue
            moved = 0
            for i, value in enumerate(sent):
                if moved == n:
                    break
                if value == recorded:
                    sent[i] = now
                    moved += 1
            if moved:  # keep the deque sorted for delay()
                self._sent[rk.key] = deque(sorted(sent))

    async def acquire(self, keys: Sequence[RateKey], n: int = 1,
                      leave: Callable[[], int] | None = None,
                      patience: float | None = None) -> float:
        """Wait until `n` sends are allowed, then record them; returns the record time,
        to be passed to `settle` when the call has completed. Raises Interrupted once
        `interrupt()` was called. `leave`: how many places to leave free for others first
        (asked again at every look; see core.delivery.fairness). `patience`: raise
        WaitTooLong instead of waiting when, at any look, the wait is longer."""
        while True:
            if self._interrupted.is_set():
                raise Interrupted
            wait = self.delay(keys, n + (leave() if leave else 0))
            if wait <= 0:
                return self.record(keys, n)
            if patience is not None and wait > patience:
                raise WaitTooLong(wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._interrupted.wait(), wait)

    async def take_if_idle(self, keys: Sequence[RateKey], headroom: int) -> float | None:
        """Record one send only while `headroom` places are free in every window: work
        that waits for a quiet budget (spare topics, title marks) and never waits for a
        place. Returns the record time for `settle`; None: not now."""
        if self._interrupted.is_set() or self.delay(keys, headroom) > 0:
            return None
        return self.record(keys, 1)

    async def wait(self, keys: Sequence[RateKey], n: int = 1) -> None:
        """Wait until `n` sends are allowed, recording none (see core.delivery.coalesce).
        Raises Interrupted as `acquire` does."""
        while True:
            if self._interrupted.is_set():
                raise Interrupted
            wait = self.delay(keys, n)
            if wait <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._interrupted.wait(), wait)

    async def drain(self) -> None:
        """Finish what the limiter does in the background before the database closes
        (nothing here; a shared limiter records its slots in the database)."""

    def interrupt(self) -> None:
        """Stopping: every wait for a window ends now (Interrupted), and no new one starts.
        Calls already on the wire are not affected."""
        self._interrupted.set()

    def pause(self, key: str, seconds: float) -> None:
        """The platform said: nothing to `key` for `seconds`."""
        until = self._now() + seconds + self._margin
        self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)


def batch_cap(keys: Sequence[RateKey], wanted: int) -> int:
    """A batch never exceeds the smallest window, or it could never be sent."""
    cap = wanted
    for rk in keys:
        cap = min(cap, rk.count)
    return max(cap, 1)

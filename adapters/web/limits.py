"""Rate limits of the public endpoint: at most `count` hits per `window` seconds per key (a
visitor, a client address). A refused hit says how long to wait (the 429's Retry-After)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class RateLimits:
    def __init__(self, count: int, window: float,
                 clock: Callable[[], float] = time.monotonic, keep: int = 100_000) -> None:
        self._count = count
        self._window = window
        self._clock = clock
        self._keep = keep  # keys remembered at most: stale ones are dropped past this
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> int:
        """0 when allowed (and counted); else the whole seconds to wait."""
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._keep:
                self._forget(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if len(hits) >= self._count:
            return max(1, math.ceil(hits[0] + self._window - now))
        hits.append(now)
        return 0

    def _forget(self, now: float) -> None:
        stale = [k for k, h in self._hits.items() if not h or h[-1] <= now - self._window]
        for key in stale:
            del self._hits[key]

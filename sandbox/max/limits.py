"""The 30 requests/s every bot token shares (429 ``too.many.requests``), violations, faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..common.limits import FaultQueue, InjectedFault, SlidingWindowLimiter
from .state import MaxError


@dataclass(frozen=True)
class Violation:
    """A request made while the token was over its limit (it was answered 429)."""

    time: float
    route: str
    in_window: int


class RateLimiter(SlidingWindowLimiter[Violation]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.enabled = True
        self.count = 30
        self.window = 1.0

    def configure(self, enabled: bool = True, count: int | None = None,
                  window: float | None = None) -> None:
        self.enabled = enabled
        self.count = self.count if count is None else int(count)
        self.window = self.window if window is None else float(window)
        self._events.clear()

    def acquire(self, token: str, route: str) -> None:
        if not self.enabled:
            return
        now = self._clock()
        events = self._window(token, now, self.window)
        if len(events) >= self.count:
            self.violations.append(Violation(now, route, len(events)))
            raise MaxError(429, "too.many.requests", "Too many requests")
        events.append(now)


@dataclass
class Fault(InjectedFault):
    kind: str  # "error" | "delay" | "drop"
    method: str  # a route such as "post /messages", or "*"
    times: int | None
    user_id: int | None = None
    status: int = 500
    code: str = "internal.error"
    message: str = "Internal error"
    seconds: float = 0.0
    after: bool = False

    def _target(self) -> int | None:
        return self.user_id


class FaultInjector(FaultQueue[Fault]):
    pass

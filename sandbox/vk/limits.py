"""Rate limits (20 req/s per token -> error 6; getLongPollServer -> error 29), violations and
fault injection."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..common.limits import FaultQueue, InjectedFault, SlidingWindowLimiter
from .errors import VkApiError


@dataclass
class RateLimitConfig:
    enabled: bool = True
    count: int = 20  # requests per window per community token
    window: float = 1.0
    # groups.getLongPollServer calls per window per community before error 29 (VK publishes
    # no number; a reconnect loop without backoff must trip it, a sane client never)
    lp_server_count: int = 20
    lp_server_window: float = 60.0


@dataclass(frozen=True)
class Violation:
    """A request made while the token was over its limit (it was answered error 6 or 29)."""

    time: float
    group_id: int
    method: str
    error_code: int
    in_window: int  # requests already accepted in the current window


class RateLimiter(SlidingWindowLimiter[Violation]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.config = RateLimitConfig()

    def configure(
        self,
        enabled: bool = True,
        count: int | None = None,
        window: float | None = None,
        *,
        lp_server_count: int | None = None,
        lp_server_window: float | None = None,
    ) -> None:
        config = self.config
        config.enabled = enabled
        config.count = config.count if count is None else int(count)
        config.window = config.window if window is None else float(window)
        if lp_server_count is not None:
            config.lp_server_count = int(lp_server_count)
        if lp_server_window is not None:
            config.lp_server_window = float(lp_server_window)
        self._events.clear()  # new rules, clean slate

    def acquire(self, group_id: int, method: str) -> None:
        """Count one request of the community's token, or raise error 6 / 29."""
        if not self.config.enabled:
            return
        now = self._clock()
        self._take(
            ("token", group_id), group_id, method, now, 6, self.config.count, self.config.window
        )
        if method == "groups.getLongPollServer":
            self._take(
                ("lp_server", group_id),
                group_id,
                method,
                now,
                29,
                self.config.lp_server_count,
                self.config.lp_server_window,
            )

    def _take(
        self,
        key: tuple[str, int],
        group_id: int,
        method: str,
        now: float,
        code: int,
        limit: int,
        window: float,
    ) -> None:
        events = self._window(key, now, window)
        if len(events) >= limit:
            self.violations.append(Violation(now, group_id, method, code, len(events)))
            raise VkApiError(code)
        events.append(now)


@dataclass
class Fault(InjectedFault):
    # "error" | "delay" | "drop" | long poll only: "failed" | "hang" | "status"
    kind: str
    method: str  # VK method name (lower-case), "longpoll" for a_check, or "*"
    times: int | None  # None: until reset_faults()
    peer_id: int | None = None
    error_code: int = 0
    error_msg: str | None = None
    seconds: float = 0.0
    after: bool = False  # drop: perform the call first, then lose the answer

    def _target(self) -> int | None:
        return self.peer_id


class FaultInjector(FaultQueue[Fault]):
    """Faults matched by method and (optionally) peer id, plus the long poll's own kinds."""

    def take_any(self, kinds: tuple[str, ...], method: str) -> Fault | None:
        """Consume one use of the first fault of any of ``kinds`` for ``method``."""
        for fault in self.faults:
            if fault.kind in kinds and fault.matches(fault.kind, method, None):
                self._use(fault)
                return fault
        return None

"""Rate limits (20 req/s per token -> error 6; getLongPollServer -> error 29), violations and
fault injection."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

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


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = RateLimitConfig()
        self.violations: list[Violation] = []
        self._clock = clock
        self._events: dict[tuple[str, int], deque[float]] = {}

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
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - window:
            events.popleft()
        if len(events) >= limit:
            self.violations.append(Violation(now, group_id, method, code, len(events)))
            raise VkApiError(code)
        events.append(now)


@dataclass
class Fault:
    # "error" | "delay" | "drop" | long poll only: "failed" | "hang" | "status"
    kind: str
    method: str  # VK method name (lower-case), "longpoll" for a_check, or "*"
    times: int | None  # None: until reset_faults()
    peer_id: int | None = None
    error_code: int = 0
    error_msg: str | None = None
    seconds: float = 0.0
    after: bool = False  # drop: perform the call first, then lose the answer

    def matches(self, kind: str, method: str, peer_id: int | None) -> bool:
        if self.kind != kind or self.times == 0:
            return False
        if self.method not in ("*", method.lower()):
            return False
        return self.peer_id is None or self.peer_id == peer_id


@dataclass
class FaultInjector:
    faults: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def take(
        self, kind: str, method: str, peer_id: int | None = None, *, after: bool = False
    ) -> Fault | None:
        """Consume one use of the first matching fault."""
        for fault in self.faults:
            if fault.after == after and fault.matches(kind, method, peer_id):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def take_any(self, kinds: tuple[str, ...], method: str) -> Fault | None:
        for fault in self.faults:
            if fault.kind in kinds and fault.matches(fault.kind, method, None):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def reset(self) -> None:
        self.faults.clear()

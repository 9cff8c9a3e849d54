"""Flood control (sliding windows, 429 + retry_after, violations) and fault injection."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..common.limits import FaultQueue, InjectedFault, SlidingWindowLimiter
from .errors import ApiError, too_many_requests

Limit = tuple[int, float]  # (messages, window seconds)


@dataclass
class RateLimitConfig:
    enabled: bool = False
    private: Limit = (1, 1.0)  # per private chat
    group: Limit = (20, 60.0)  # per group/supergroup, all topics together
    bot: Limit = (30, 1.0)  # per bot, all chats together
    # A retry that arrives this early (seconds) is still accepted: transport jitter is not
    # the client ignoring retry_after.
    grace: float = 0.05


@dataclass(frozen=True)
class Violation:
    """A send attempted while an announced retry_after window was still running."""

    time: float
    bot_id: int
    chat_id: int
    method: str
    scope: str  # "private" | "group" | "bot"
    remaining: float  # seconds the client still had to wait


class RateLimiter(SlidingWindowLimiter[Violation]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.config = RateLimitConfig()
        self._blocked_until: dict[tuple[object, ...], float] = {}

    def configure(
        self,
        *,
        enabled: bool = True,
        private: Limit | None = None,
        group: Limit | None = None,
        bot: Limit | None = None,
        grace: float | None = None,
    ) -> None:
        self.config.enabled = enabled
        if private is not None:
            self.config.private = (int(private[0]), float(private[1]))
        if group is not None:
            self.config.group = (int(group[0]), float(group[1]))
        if bot is not None:
            self.config.bot = (int(bot[0]), float(bot[1]))
        if grace is not None:
            self.config.grace = grace
        # New rules, clean slate: old timestamps were counted under other windows.
        self._events.clear()
        self._blocked_until.clear()

    def acquire(
        self, *, bot_id: int, chat_id: int, private: bool, method: str, count: int = 1
    ) -> None:
        """Account ``count`` messages to the chat and the bot, or raise a 429 ApiError."""
        if not self.config.enabled:
            return
        now = self._clock()
        chat_scope = "private" if private else "group"
        scopes: list[tuple[tuple[object, ...], str, Limit]] = [
            (
                ("chat", bot_id, chat_id),
                chat_scope,
                self.config.private if private else self.config.group,
            ),
            (("bot", bot_id), "bot", self.config.bot),
        ]
        for key, scope, _ in scopes:
            until = self._blocked_until.get(key)
            if until is not None and now < until - self.config.grace:
                self.violations.append(
                    Violation(now, bot_id, chat_id, method, scope, remaining=until - now)
                )
                raise too_many_requests(max(1, math.ceil(until - now)))
        waits: list[tuple[tuple[object, ...], float]] = []
        for key, _, (limit, window) in scopes:
            events = self._window(key, now, window)
            wait = _wait_needed(events, limit, window, count, now)
            if wait > 0:
                waits.append((key, wait))
        if waits:
            retry_after = max(1, math.ceil(max(wait for _, wait in waits)))
            for key, _ in waits:
                self._blocked_until[key] = now + retry_after
            raise too_many_requests(retry_after)
        for key, _, _ in scopes:
            self._events[key].extend([now] * count)


def _wait_needed(events: deque[float], limit: int, window: float, count: int, now: float) -> float:
    if count > limit:
        # A batch larger than the whole budget (e.g. a 10-photo album at 5/window) can only
        # go through an empty window.
        return events[-1] + window - now if events else 0.0
    excess = len(events) + count - limit
    if excess <= 0:
        return 0.0
    return events[excess - 1] + window - now


@dataclass
class Fault(InjectedFault):
    kind: str  # "error" | "delay" | "drop"
    method: str  # lower-case method name, or "*" for any method
    times: int | None  # None: until reset_faults()
    chat_id: int | None = None
    error_code: int = 0
    description: str = ""
    retry_after: int | None = None
    seconds: float = 0.0
    after: bool = False  # drop: perform the call first, then lose the answer
    chance: float = 1.0  # the share of matching calls it hits

    def _target(self) -> int | None:
        return self.chat_id

    def error(self) -> ApiError:
        retry_after = self.retry_after
        if self.error_code == 429 and retry_after is None:
            retry_after = 1
        return ApiError(self.error_code, self.description, retry_after)


class FaultInjector(FaultQueue[Fault]):
    """Faults matched by method and (optionally) chat id."""

"""Sliding-window counting and injected faults, the parts both emulators' limits share.

What a limit is, what breaking it answers and what a violation records are each platform's
own (``sandbox/telegram/limits.py``, ``sandbox/vk/limits.py``).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

ViolationT = TypeVar("ViolationT")


class SlidingWindowLimiter(Generic[ViolationT]):
    """Timestamps of accepted events per key, and the violations a platform records."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.violations: list[ViolationT] = []
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}

    def _window(self, key: Hashable, now: float, window: float) -> deque[float]:
        """The key's events inside the last ``window`` seconds (older ones are forgotten)."""
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - window:
            events.popleft()
        return events


class InjectedFault:
    """Matching of a fault to a call; platforms add what the fault answers.

    Subclasses are dataclasses with these fields and say which chat or peer the fault is
    limited to (``_target``; None: any).
    """

    kind: str
    method: str  # lower-case method name, or "*" for any method
    times: int | None  # None: until reset
    after: bool  # drop: perform the call first, then lose the answer
    chance: float = 1.0  # the share of matching calls it hits (a random sample of them)

    def _target(self) -> int | None:
        raise NotImplementedError

    def matches(self, kind: str, method: str, target: int | None) -> bool:
        if self.kind != kind or self.times == 0:
            return False
        if self.method not in ("*", method.lower()):
            return False
        wanted = self._target()
        return wanted is None or wanted == target


FaultT = TypeVar("FaultT", bound=InjectedFault)


@dataclass
class FaultQueue(Generic[FaultT]):
    """Injected faults in the order given; each use of one counts down its ``times``."""

    faults: list[FaultT] = field(default_factory=list)
    # Draws for faults with a `chance` below 1; seeded, so a failing run can be replayed.
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311

    def add(self, fault: FaultT) -> None:
        self.faults.append(fault)

    def take(
        self, kind: str, method: str, target: int | None = None, *, after: bool = False
    ) -> FaultT | None:
        """Consume one use of the first matching fault (one that spares this call by its
        `chance` is passed over)."""
        for fault in self.faults:
            if fault.after == after and fault.matches(kind, method, target) and (
                fault.chance >= 1.0 or self.rng.random() < fault.chance
            ):
                self._use(fault)
                return fault
        return None

    def _use(self, fault: FaultT) -> None:
        if fault.times is not None:
            fault.times -= 1

    def reset(self) -> None:
        self.faults.clear()

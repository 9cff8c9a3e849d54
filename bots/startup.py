"""Waiting at start for an API server that can't be reached yet.

A service often starts before the network is up, and platforms have outages: a start that
finds Telegram or VK away logs one line per try and tries again, with growing pauses, until
the server answers or the process is told to stop (cancel the start). What the admin must
fix (a rejected token, a group that is not a forum) is never retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from adapters.unreachable import ServerUnreachable

T = TypeVar("T")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartupRetry:
    """Pauses between tries: exponential from `base` seconds, capped at `cap`, jittered so
    that many desks restarted together do not knock in step."""

    base: float = 1.0
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        """The pause after `failures` failed tries in a row (1, 2, …): between half and all
        of ``base * 2**(failures - 1)``, at most `cap`."""
        ceiling = min(self.cap, self.base * 2 ** min(failures - 1, 30))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto

    async def until_reachable(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """The result of `attempt()`, tried again for as long as it raises
        `ServerUnreachable`. Cancelling the caller ends the waiting at once."""
        failures, last = 0, None
        while True:
            try:
                result = await attempt()
            except ServerUnreachable as exc:
                failures, last = failures + 1, exc
                delay = max(self.delay(failures), exc.wait)
                logger.warning("%s; trying again in %.1fs (attempt %d)", exc, delay, failures)
                await asyncio.sleep(delay)
                continue
            if last is not None:
                logger.info("the %s at %s answers now, after %d failed attempts",
                            last.api, last.server, failures)
            return result

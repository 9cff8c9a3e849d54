"""Platform rate limits shared by every process on one PostgreSQL database.

Each process keeps its in-memory sliding windows (they spare the database the sends this
process alone would already have to wait for); a send then also takes its slots in
`rate_slot` through `relaydesk_rate_take` (migration 0012), which sees every process's
sends. Pauses a platform announced (429) are shared the same way. Title edits of the SLA
job (`delay`/`record`, synchronous) are recorded for the others in the background; only the
leader runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from core.delivery.ratelimit import Interrupted, SlidingWindowLimiter, WaitTooLong
from core.ports import RateKey
from storage.base import TortoiseBase

logger = logging.getLogger(__name__)


class _Slots(TortoiseBase):
    async def take(self, keys: Sequence[RateKey], n: int, margin: float
                   ) -> tuple[float, list[int]]:
        rows = await self._raw(
            "SELECT relaydesk_rate_take(?::text[], ?::int[], ?::bigint[], ?) AS r",
            [[k.key for k in keys], [k.count for k in keys],
             [int((k.window + margin) * 1_000_000) for k in keys], n])
        result = list(rows[0]["r"])
        return result[0] / 1_000_000, result[1:]

    async def settle(self, ids: list[int]) -> None:
        await self._raw("UPDATE rate_slot SET at_us = (extract(epoch FROM clock_timestamp())"
                        " * 1000000)::BIGINT WHERE id = ANY(?::bigint[])", [ids])

    async def pause(self, key: str, seconds: float) -> None:
        await self._raw(
            "INSERT INTO rate_pause (key, until_us) VALUES (?, (extract(epoch FROM "
            "clock_timestamp()) * 1000000)::BIGINT + ?) ON CONFLICT (key) DO UPDATE SET "
            "until_us = greatest(rate_pause.until_us, excluded.until_us)",
            [key, int(seconds * 1_000_000)])


class SharedLimiter(SlidingWindowLimiter):
    def __init__(self, margin: float = 0.05) -> None:
        super().__init__(margin=margin)
        self._slots = _Slots()
        self._taken: dict[float, list[int]] = {}  # record time → its rows in rate_slot
        self._background: set[asyncio.Task[None]] = set()

    async def acquire(self, keys: Sequence[RateKey], n: int = 1,
                      leave: Callable[[], int] | None = None,
                      patience: float | None = None) -> float:
        # This process's own windows first, leaving the places fairness asks for (see
        # core.delivery.fairness: it ranks this process's lanes only). `patience` is
        # applied to them (the database's windows, shared with other processes, are waited
        # for: a slot there is taken only once this process decided to send).
        while (wait := self.delay(keys, n + (leave() if leave else 0))) > 0:
            if self._interrupted.is_set():
                raise Interrupted
            if patience is not None and wait > patience:
                raise WaitTooLong(wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._interrupted.wait(), wait)
        if self._interrupted.is_set():
            raise Interrupted
        # Not self.record: that one is for sends decided elsewhere (titles) and shares them.
        recorded = SlidingWindowLimiter.record(self, keys, n)
        keys = [k for k in keys if k.count > 0]
        while keys:
            wait, ids = await self._slots.take(keys, n, self._margin)
            if wait <= 0:
                self._taken.setdefault(recorded, []).extend(ids)
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._interrupted.wait(), wait)
            if self._interrupted.is_set():
                raise Interrupted
        return recorded

    def settle(self, keys: Sequence[RateKey], n: int, recorded: float) -> None:
        super().settle(keys, n, recorded)
        ids = self._taken.pop(recorded, None)
        if ids:
            self._spawn(self._slots.settle(ids))

    def record(self, keys: Sequence[RateKey], n: int = 1) -> float:
        recorded = super().record(keys, n)
        self._spawn(self._record_shared(keys, n))
        return recorded

    async def _record_shared(self, keys: Sequence[RateKey], n: int) -> None:
        # A send the caller already decided on: recorded even over the window (counted,
        # so that the others wait for it), at the time it is recorded (no settle: the
        # caller's settle may come before this lands).
        await self._slots.take([RateKey(k.key, 10**9, k.window) for k in keys], n,
                               self._margin)

    def pause(self, key: str, seconds: float) -> None:
        super().pause(key, seconds)
        self._spawn(self._slots.pause(key, seconds + self._margin))

    async def drain(self) -> None:
        # Slots settled or recorded in the background write to the database: they finish
        # before it closes (after the close they would open a connection nobody closes).
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _spawn(self, work: object) -> None:
        task = asyncio.ensure_future(work)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("shared rate limits: %s", task.exception())

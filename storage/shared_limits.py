"""Platform rate limits shared by every process on one PostgreSQL database.

Each process keeps its in-memory sliding windows (they spare the database the sends this
process alone would already have to wait for); a send then also takes its slots in
`rate_slot` through `relaydesk_rate_take` (migration 0016), which sees every process's
sends. Pauses a platform announced (429) are shared the same way. Title edits of the SLA
job (`delay`/`record`, synchronous) are recorded for the others in the background; only the
leader runs them.

A limiter alone decides in memory (see `storage.limiter_presence`): that round trip was on
every send's path (≈ 0.6 ms here, and the slot's later update competed with the next
message's intake). While its presence check says no other limiter uses the database, a
send is decided by the in-memory windows alone and its slot is still written, in the
background, so that a process starting later sees it: the newcomer waits out the lone
one's check period before its first slot, and from the lone one's next check on both
take their slots in the database again.

Slot writes commit without waiting for the WAL flush (`synchronous_commit` off for their
transaction): other sessions see them at once; only a crash of the database server itself
may forget the last fraction of a second of slots, and every process's own windows still
hold its own sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from typing import TypeVar

from core.delivery.ratelimit import Interrupted, SlidingWindowLimiter, WaitTooLong
from core.ports import RateKey
from storage.base import TortoiseBase
from storage.limiter_presence import Presence

logger = logging.getLogger(__name__)
T = TypeVar("T")

# In the statement's own transaction: its commit does not wait for the WAL flush.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"
# A lone send's slot is written at once (off its path: a process killed right after a send
# leaves at most the last milliseconds unwritten for the one that follows it); only a send
# longer than this (a long poll) has its rows moved to its completion, as the windows are.
LONE_SETTLE_AFTER = 0.02
FORCED = 10**9  # a count no window reaches: the slot is recorded whatever the window holds


class _Slots(TortoiseBase):
    async def take(self, keys: Sequence[RateKey], n: int, margin: float
                   ) -> tuple[float, list[int]]:
        rows = await self._raw(
            "SELECT relaydesk_rate_take(?::text[], ?::int[], ?::bigint[], ?) AS r, "
            f"{_ASYNC_COMMIT} AS s",
            [[k.key for k in keys], [k.count for k in keys],
             [int((k.window + margin) * 1_000_000) for k in keys], n])
        result = list(rows[0]["r"])
        return result[0] / 1_000_000, result[1:]

    async def settle(self, ids: list[int]) -> None:
        await self._raw(f"WITH s AS (SELECT {_ASYNC_COMMIT}) UPDATE rate_slot SET at_us = "
                        "(extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT FROM s"
                        " WHERE id = ANY(?::bigint[])", [ids])

    async def pause(self, key: str, seconds: float) -> None:
        await self._raw(
            "INSERT INTO rate_pause (key, until_us) VALUES (?, (extract(epoch FROM "
            "clock_timestamp()) * 1000000)::BIGINT + ?) ON CONFLICT (key) DO UPDATE SET "
            "until_us = greatest(rate_pause.until_us, excluded.until_us)",
            [key, int(seconds * 1_000_000)])


class SharedLimiter(SlidingWindowLimiter):
    def __init__(self, margin: float = 0.05, presence: Presence | None = None) -> None:
        super().__init__(margin=margin)
        self._slots = _Slots()
        self.presence = presence or Presence(self._load, self._now)
        self._taken: dict[float, list[int]] = {}  # record time → its rows in rate_slot
        # Slots of lone decisions still being written: record time → those writes.
        self._writing: dict[float, list[asyncio.Task[list[int]]]] = {}
        self._lone_taken: dict[float, list[int]] = {}  # and once written, their rows
        self._background: set[asyncio.Task[object]] = set()

    async def acquire(self, keys: Sequence[RateKey], n: int = 1,
                      leave: Callable[[], int] | None = None,
                      patience: float | None = None) -> float:
        while True:
            await self._local_window(keys, n, leave, patience)
            # No await from the window's answer to the record: one decision.
            if self.presence.alone():
                recorded = SlidingWindowLimiter.record(self, keys, n)
                self._write_lone(keys, n, recorded)
                return recorded
            if self.presence.may_share():
                break
            await self._wait(self.presence.until_shared())
        # Not self.record: that one is for sends decided elsewhere (titles) and shares them.
        recorded = SlidingWindowLimiter.record(self, keys, n)
        keys = [k for k in keys if k.count > 0]
        while keys:
            wait, ids = await self._slots.take(keys, n, self._margin)
            if wait <= 0:
                self._taken.setdefault(recorded, []).extend(ids)
                break
            await self._wait(wait)
        return recorded

    async def take_if_idle(self, keys: Sequence[RateKey], headroom: int) -> float | None:
        """As the in-memory limiter's, checked against the database's windows too, in
        the statement that writes the slot: this process's memory does not hold the
        others' sends, and a spare topic made on that view alone once went into a window
        they had filled (a 429, then another process's send inside its retry_after)."""
        if self.delay(keys, headroom) > 0:
            return None
        await self.presence.start()
        if self.presence.stopped or self._interrupted.is_set():
            return None
        if self.presence.alone():  # this process's memory is the whole picture
            recorded = SlidingWindowLimiter.record(self, keys, 1)
            self._write_lone(keys, 1, recorded)
            return recorded
        if not self.presence.may_share():  # a lone one's memory may not know us yet
            return None
        # One place taken only while `headroom` are free: the count lowered to match.
        idle = [RateKey(k.key, k.count - headroom + 1, k.window) for k in keys if k.count > 0]
        wait, ids = await self._slots.take(idle, 1, self._margin) if idle else (0.0, [])
        if wait > 0:
            return None
        recorded = SlidingWindowLimiter.record(self, keys, 1)
        if ids:
            self._taken.setdefault(recorded, []).extend(ids)
        return recorded

    async def _local_window(self, keys: Sequence[RateKey], n: int,
                            leave: Callable[[], int] | None, patience: float | None) -> None:
        """This process's own windows first, leaving the places fairness asks for (see
        core.delivery.fairness: it ranks this process's lanes only); the presence check
        runs meanwhile. `patience` applies to them (the database's windows, shared with
        other processes, are waited for: a slot there is taken only once this process
        decided to send)."""
        await self.presence.start()
        if self.presence.stopped:  # drained: the process is stopping
            raise Interrupted
        while (wait := self.delay(keys, n + (leave() if leave else 0))) > 0:
            if patience is not None and wait > patience:
                raise WaitTooLong(wait)
            await self._wait(wait)
        if self._interrupted.is_set():
            raise Interrupted

    async def _wait(self, seconds: float) -> None:
        if self._interrupted.is_set():
            raise Interrupted
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._interrupted.wait(), seconds)
        if self._interrupted.is_set():
            raise Interrupted

    def _write_lone(self, keys: Sequence[RateKey], n: int, recorded: float) -> None:
        counted = [RateKey(k.key, FORCED, k.window) for k in keys if k.count > 0]
        if not counted:
            return
        task = self._spawn(self._take_forced(counted, n))
        self._writing.setdefault(recorded, []).append(task)
        task.add_done_callback(lambda _: self._written(recorded, task))

    def _written(self, recorded: float, task: asyncio.Task[list[int]]) -> None:
        tasks = self._writing.get(recorded)
        if tasks is None or task not in tasks:  # settled meanwhile: _settle_written moves it
            return
        tasks.remove(task)
        if not tasks:
            del self._writing[recorded]
        if not task.cancelled() and task.exception() is None:  # the settle moves its rows
            self._lone_taken.setdefault(recorded, []).extend(task.result())

    async def _take_forced(self, keys: Sequence[RateKey], n: int) -> list[int]:
        _, ids = await self._slots.take(keys, n, self._margin)
        return ids

    def settle(self, keys: Sequence[RateKey], n: int, recorded: float) -> None:
        super().settle(keys, n, recorded)
        ids = self._taken.pop(recorded, None)
        if ids:
            self._spawn(self._slots.settle(ids))
        writing = self._writing.pop(recorded, None)
        lone = self._lone_taken.pop(recorded, None)
        if self._now() - recorded < LONE_SETTLE_AFTER:
            return  # a short lone send's rows keep its start: within every window's margin
        if lone:
            self._spawn(self._slots.settle(lone))
        if writing:  # a lone decision's slots: moved once they are written
            self._spawn(self._settle_written(writing))

    async def _settle_written(self, writing: list[asyncio.Task[list[int]]]) -> None:
        ids = [i for task in writing for i in await task]
        if ids:
            await self._slots.settle(ids)

    def record(self, keys: Sequence[RateKey], n: int = 1) -> float:
        recorded = super().record(keys, n)
        self._spawn(self._record_shared(keys, n))
        return recorded

    async def _record_shared(self, keys: Sequence[RateKey], n: int) -> None:
        # A send the caller already decided on: recorded even over the window (counted,
        # so that the others wait for it), at the time it is recorded (no settle: the
        # caller's settle may come before this lands).
        await self._slots.take([RateKey(k.key, FORCED, k.window) for k in keys], n,
                               self._margin)

    def pause(self, key: str, seconds: float) -> None:
        super().pause(key, seconds)
        self._spawn(self._slots.pause(key, seconds + self._margin))

    def _load(self, sent: dict[str, list[float]], paused: dict[str, float]) -> None:
        """Becoming alone: the slots and pauses the others left (in this process's clock),
        added to the windows. This process's own slots are counted twice until they leave
        the window: waiting longer is the safe side."""
        for key, times in sent.items():
            self._sent[key] = deque(sorted([*self._sent.get(key, ()), *times]))
        for key, until in paused.items():
            self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)

    async def drain(self) -> None:
        # Slots written, settled or recorded in the background write to the database: they
        # finish before it closes (after the close they would open a connection nobody
        # closes); then the presence check stops and its connection closes.
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        await self.presence.stop()

    def _spawn(self, work: Coroutine[object, object, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[object]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("shared rate limits: %s", task.exception())


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
from dataclasses import dataclass
from typing import TypeVar

from core.delivery.ratelimit import Interrupted, SlidingWindowLimiter
from core.ports import RateKey
from storage.base import TortoiseBase
from storage.limiter_presence import Presence

logger = logging.getLogger(__name__)
T = TypeVar("T")

# In the statement's own transaction: its commit does not wait for the WAL flush.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"
_NOW_US = "(extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT"
# Lone decisions are written together, this often: one statement for many sends (a newcomer
# waits longer than this before its first slot; see storage.limiter_presence).
WRITE_EVERY = 0.05
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

    async def add(self, slots: Sequence[RateKey], margin: float) -> None:
        """Slots of sends already made, one row each, at now; rows of those keys older than
        their window go (as a take would remove them)."""
        await self._raw(
            f"WITH s AS (SELECT {_ASYNC_COMMIT}), w AS (SELECT * FROM unnest(?::text[],"
            " ?::bigint[]) AS w(key, win_us)), gone AS (DELETE FROM rate_slot r USING"
            " (SELECT key, max(win_us) AS win_us FROM w GROUP BY key) g WHERE r.key = g.key"
            f" AND r.at_us <= {_NOW_US} - g.win_us) INSERT INTO rate_slot (key, at_us)"
            f" SELECT w.key, {_NOW_US} FROM w, s",
            [[k.key for k in slots], [int((k.window + margin) * 1_000_000) for k in slots]])

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
        # Lone decisions not written yet (the next write takes them), and by record time
        # until their rows exist (a settle marks them done).
        self._unwritten: list[_Lone] = []
        self._lone: dict[float, list[_Lone]] = {}
        self._write_timer: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[object]] = set()

    async def acquire(self, keys: Sequence[RateKey], n: int = 1,
                      leave: Callable[[], int] | None = None) -> float:
        while True:
            await self._local_window(keys, n, leave)
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

    async def _local_window(self, keys: Sequence[RateKey], n: int,
                            leave: Callable[[], int] | None) -> None:
        """This process's own windows first, leaving the places fairness asks for (see
        core.delivery.fairness: it ranks this process's lanes only); the presence check
        runs meanwhile."""
        await self.presence.start()
        if self.presence.stopped:  # drained: the process is stopping
            raise Interrupted
        while (wait := self.delay(keys, n + (leave() if leave else 0))) > 0:
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
        lone = _Lone(recorded, counted, n)
        self._unwritten.append(lone)
        self._lone.setdefault(recorded, []).append(lone)
        if self._write_timer is None:
            self._write_timer = asyncio.get_running_loop().call_later(
                WRITE_EVERY, lambda: self._spawn(self._write_unwritten()))

    async def _write_unwritten(self) -> None:
        """The lone decisions since the last write: those already settled in one statement
        (at now, no later than their completion); a send still on the wire (a long poll)
        takes its rows one by one, to be moved by its settle."""
        self._write_timer = None
        batch, self._unwritten = self._unwritten, []
        done = [k for lone in batch if lone.done for k in lone.keys for _ in range(lone.n)]
        if done:
            await self._slots.add(done, self._margin)
        for lone in batch:
            if lone.done:
                continue
            _, ids = await self._slots.take(lone.keys, lone.n, self._margin)
            waiting = self._lone.get(lone.recorded, [])
            if lone in waiting:  # not settled meanwhile: its settle moves the rows
                waiting.remove(lone)
                if not waiting:
                    del self._lone[lone.recorded]
                self._taken.setdefault(lone.recorded, []).extend(ids)
            else:
                await self._slots.settle(ids)

    def settle(self, keys: Sequence[RateKey], n: int, recorded: float) -> None:
        super().settle(keys, n, recorded)
        ids = self._taken.pop(recorded, None)
        if ids:
            self._spawn(self._slots.settle(ids))
        for lone in self._lone.pop(recorded, ()):
            lone.done = True  # written at the write's time, or moved once its rows exist

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
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        while self._background or self._unwritten:
            if self._unwritten:
                self._spawn(self._write_unwritten())
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


@dataclass(eq=False)
class _Lone:
    """A send decided alone, until its slot's rows exist."""

    recorded: float
    keys: list[RateKey]
    n: int
    done: bool = False  # settled

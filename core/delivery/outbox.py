"""The durable outbox worker: claims due deliveries FIFO per lane, passes the rate limiter,
calls the adapters through the Relayer and applies one error policy (core.delivery.policy).

Woken by intake commits (an event), not by a polling interval; sleeps until the next
scheduled attempt otherwise. Liveness does not rest on every wake-up being right: a slow
periodic look (`rescue_every`) dispatches heads overdue by more than `rescue_after` that
nobody was woken for, and logs each one at WARNING with its lane.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from core.delivery.events import DeliveryEvents
from core.delivery.policy import DeliveryPolicy, OutboxSettings
from core.delivery.queue import Queue
from core.delivery.relay import Relayer, RelayStore
from core.delivery.surge import BudgetHold
from core.model import Delivery, Message
from core.ports import Handover
from core.unit import Transactions

__all__ = ["Outbox", "OutboxSettings"]

logger = logging.getLogger(__name__)

SPIN_GUARD = 0.2  # seconds: the dispatcher's pause when due heads could not be taken


class Outbox:
    def __init__(
        self,
        store: RelayStore,
        transactions: Transactions,
        queue: Queue,
        relayer: Relayer,
        targets: Sequence[str],
        settings: OutboxSettings,
    ) -> None:
        """Also the `Dispatch` of `transactions`: committed units hand their work here."""
        self._store = store
        self._now = transactions.now
        self._relayer = relayer
        self._targets = list(targets)
        self._settings = settings
        self._event = asyncio.Event()
        self._dirty: set[str] = set(targets)  # targets that may have new claimable heads
        self._lanes: dict[str, str] = {}  # lane -> target, for lanes this process works on
        self._held: dict[str, list[int]] = {}  # lane -> rows it has claimed (leases to renew)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._running = False  # run() has freed what a previous stop left in flight
        self._wakes: dict[str, int] = {}  # per target: how many times work was committed
        # Deliveries born claimed (see adopt) for lanes this process was still running.
        self._adopted: dict[str, list[Delivery]] = {}
        self._policy = DeliveryPolicy(store, transactions, queue, relayer, settings)
        self._hold = BudgetHold(store, relayer, self._now, self._lease_until,
                                lambda: set(self._lanes), lambda: self._stopping, self._held,
                                SPIN_GUARD)
        transactions.dispatch = self
        self.rescued = 0  # heads the safety net dispatched (a wake-up was missed)

    def observe(self, events: DeliveryEvents) -> None:
        """Who hears how each platform call ended (metrics)."""
        self._policy.events = events

    def remember(self, messages: list[Message]) -> None:
        """Committed messages the relay will want (see Relayer.remember)."""
        self._relayer.remember(messages)

    def wake(self, targets: Iterable[str] | None = None) -> None:
        """New work was committed (for `targets`, or anywhere)."""
        woken = self._targets if targets is None else list(targets)
        self._dirty.update(woken)
        for target in woken:
            self._wakes[target] = self._wakes.get(target, 0) + 1
        self._event.set()

    @property
    def lanes_running(self) -> dict[str, str]:
        """The lanes this process's workers run now, lane -> target (a copy)."""
        return dict(self._lanes)

    def birth_lease(self, target: str | None) -> datetime | None:
        """The lease of a delivery intake may create claimed (see IntakeService.Handoff):
        it skips the dispatcher's claim and look-up. None while stopping, or when the
        target's workers (all workers, for `target` None) are busy: then the dispatcher
        takes it in turn."""
        if self._stopping or not self._running:
            return None  # before run(): its release of stale claims would free this row too
        lanes = self._lanes.values()
        busy = len(self._lanes) if target is None else sum(1 for t in lanes if t == target)
        workers = self._settings.workers * (len(self._targets) if target is None else 1)
        if busy >= workers:
            return None
        return self._now() + self._settings.lease

    def adopt(self, fast: Handover) -> None:
        """Run a delivery intake created claimed, because its lane had nothing pending or in
        flight. A lane this process is still finishing takes it before looking for more."""
        delivery = fast.delivery
        self._relayer.prefetch(delivery.id, fast.conversation or fast.identity)
        if self._stopping:
            self._spawn(self._release([delivery.id]), f"release:{delivery.lane}")
        elif delivery.lane in self._lanes:
            self._adopted.setdefault(delivery.lane, []).append(delivery)
        else:
            self._start_lane(delivery)

    async def _release(self, ids: list[int]) -> None:
        """Claimed rows this process will not run: due again at once, for whoever runs."""
        try:
            await self._store.release(ids)
        except Exception:  # their lease runs out instead
            logger.exception("outbox: could not release %s", ids)
        self.wake()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Dispatch until stop(); each target gets its own worker budget so a throttled
        operator group never holds back answers to customers."""
        now = self._now()
        horizon = now + self._settings.lease if self._settings.exclusive else now
        released = await self._store.release_stale(horizon)
        if not self._settings.exclusive:
            released += await self._store.release_orphaned()
        if released:
            logger.info("outbox: %d deliveries interrupted by a previous stop are due again",
                        released)
        self._running = True
        if self._settings.exclusive:
            await self._loop()
            return
        keepers = [asyncio.create_task(self._heartbeat(), name="outbox-heartbeat"),
                   asyncio.create_task(self._reaper(), name="outbox-reaper")]
        try:
            await self._loop()
        finally:
            for task in keepers:
                task.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)

    async def _heartbeat(self) -> None:
        """Renew the leases of rows in flight, so a long rate-limit wait never lets another
        process take them, while the rows of a process that hangs come free one lease
        later."""
        period = self._settings.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            ids = [i for held in self._held.values() for i in held]
            try:
                if ids:
                    await self._store.extend_leases(ids, self._now() + self._settings.lease)
                if await self._store.release_stale(self._now()):
                    self.wake()
            except Exception:
                logger.exception("outbox: lease renewal failed")

    async def _reaper(self) -> None:
        """Give back, within `reap_every`, the rows of processes that died (the store knows
        a dead process from a live one; a lease only tells that it stopped renewing)."""
        while True:
            await asyncio.sleep(self._settings.reap_every)
            try:
                released = await self._store.release_orphaned()
            except Exception:
                logger.exception("outbox: the look for rows of dead processes failed")
                continue
            if released:
                logger.warning("outbox: %d deliveries of a process that died are due again",
                               released)
                self.wake()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_rescue = loop.time() + self._settings.rescue_every
        while not self._stopping:
            self._event.clear()
            await self._dispatch()
            if self._stopping:
                break
            if self._dirty:
                continue  # woken while dispatching, or more heads than slots: look again
            if loop.time() >= next_rescue:
                next_rescue = loop.time() + self._settings.rescue_every
                await self._rescue()
                if self._dirty:
                    continue
            due_in = await self._due_in()
            if due_in == 0:
                # Due heads we could not take: every slot busy (a finishing lane wakes us)
                # or locked by another process. Never spin on them.
                due_in = SPIN_GUARD
            check_in = max(next_rescue - loop.time(), 0.0)
            try:
                await asyncio.wait_for(self._event.wait(),
                                       check_in if due_in is None else min(due_in, check_in))
            except TimeoutError:
                if due_in is not None and due_in <= check_in:
                    self._dirty.update(self._targets)  # a retry or an album became due

    async def _rescue(self) -> None:
        """The safety net: heads overdue by more than `rescue_after` in targets with a free
        slot mean a wake-up was missed somewhere. Dispatch them and say where."""
        free = [t for t in self._targets if self._busy(t) < self._settings.workers]
        if not free:
            return
        now = self._now()
        try:
            overdue = await self._store.overdue_heads(
                now - timedelta(seconds=self._settings.rescue_after), set(self._lanes), free)
        except Exception:
            logger.exception("outbox: the look for overdue deliveries failed")
            return
        for head in overdue:
            late = (now - head.next_attempt_at).total_seconds()
            logger.warning("outbox: rescued lane %s (delivery %s, %s): due %.1fs ago and no "
                           "worker was woken for it", head.lane, head.id, head.action, late)
            self.rescued += 1
            self._dirty.add(head.target)

    def _busy(self, target: str) -> int:
        return sum(1 for t in self._lanes.values() if t == target)

    async def _dispatch(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for target in self._targets:
            if target not in dirty:
                continue
            free = self._settings.workers - self._busy(target)
            if free <= 0:
                continue
            now = self._now()
            heads = await self._store.claim_heads(
                now, free, set(self._lanes), self._lease_until(), target
            )
            if len(heads) == free:
                self._dirty.add(target)  # there may be more than there were free slots
            for head in heads:
                self._start_lane(head)

    def _lease_until(self) -> datetime | None:
        """Claims are leased in the database only when other processes may claim too."""
        if self._settings.exclusive:
            return None
        return self._now() + self._settings.lease

    async def _due_in(self) -> float | None:
        """Seconds until the earliest head nobody works on is due, in targets with a free
        worker (a lane of a full target wakes the dispatcher when it ends); None when no
        such head waits."""
        free = [t for t in self._targets if self._busy(t) < self._settings.workers]
        due = await self._store.next_due_at(set(self._lanes), free)
        if due is None:
            return None
        return max((due - self._now()).total_seconds(), 0.0)

    def _start_lane(self, head: Delivery) -> None:
        self._lanes[head.lane] = head.target
        self._spawn(self._run_lane(head), f"lane:{head.lane}")

    async def _run_lane(self, head: Delivery) -> None:
        target, drained, seen = head.target, False, -1
        left: datetime | None = None  # when the row this lane leaves behind becomes due
        try:
            claimed: list[Delivery] = [head]
            while claimed:
                if claimed[-1].more:  # followers to batch with (albums, bursts)
                    followers = await self._store.claim_next(
                        head.lane, self._now(), 100, self._lease_until(), claimed[-1].id,
                        held=[d.id for d in claimed],
                    )
                    claimed += followers.rows
                self._held[head.lane] = [d.id for d in claimed]
                claimed, pressed = await self._hold.hold(head.lane, claimed)
                if not claimed:  # gave its slot to a customer operators can't see yet
                    break
                if not await self._process(claimed, pressed) or self._stopping:
                    break
                seen = self._wakes.get(target, 0)
                last = claimed[-1].id
                # Born claimed while this lane ran (it was empty in the database) first:
                # anything pending in the lane was committed after them.
                claimed = self._adopted.pop(head.lane, [])
                if not claimed:
                    claim = await self._store.claim_next(
                        head.lane, self._now(), 100, self._lease_until(), last
                    )
                    claimed, left = claim.rows, claim.next_due
                if not claimed:  # adopted while claim_next ran
                    claimed = self._adopted.pop(head.lane, [])
            else:
                drained = True
        except Exception:
            logger.exception("outbox lane %s crashed; its rows are retried later", head.lane)
        finally:
            self._end_lane(head, drained and left is None, seen)

    def _end_lane(self, head: Delivery, empty: bool, seen: int) -> None:
        """The lane task is done: free its slot, and tell the dispatcher unless nothing can
        have changed for it."""
        target = head.target
        busy = self._busy(target)
        self._held.pop(head.lane, None)
        self._lanes.pop(head.lane, None)
        left = self._adopted.pop(head.lane, None)
        if left:  # the lane paused or stopped: they wait in the database with the rest
            self._spawn(self._release([d.id for d in left]), f"release:{head.lane}")
        # Quiet only when the lane ran dry with nothing pending left in it (a row not due
        # yet, an album, is invisible to the dispatcher while the lane runs), no work was
        # committed here for the target since the lane's last look, and no head waited
        # for this lane's slot. (Rows another process queued behind this lane's were seen
        # by that last look; rows it queues from now on, its own dispatcher takes: the
        # lane holds nothing in flight any more.)
        quiet = (empty and busy < self._settings.workers
                 and self._wakes.get(target, 0) == seen)
        if not quiet:
            self.wake([target])

    async def _process(self, claimed: list[Delivery], pressed: bool = False) -> bool:
        """Run the claimed rows in order. False when the lane must pause (FIFO holds)."""
        steps = await self._relayer.plan(claimed, pressed)
        for index, step in enumerate(steps):
            if not await self._hold.run_step(self._policy, step, pressed):
                rest = [d.id for s in steps[index + 1:] for d in s.deliveries]
                if rest:
                    await self._store.release(rest)
                return False
        return True

    async def stop(self, grace: float = 10.0) -> int:
        """Stop claiming. A send waiting for a rate-limit window goes back to the queue at
        once; calls already on the wire are awaited for at most `grace` seconds (the
        request timeout), then cut off: their rows are sent again after the restart.
        Returns how many workers had to be cut off."""
        self._stopping = True
        self._event.set()
        self._relayer.limiter.interrupt()
        if not self._tasks:
            return 0
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            logger.warning("outbox: %d sends did not finish within %.0fs; they are sent "
                           "again after the restart", len(pending), grace)
            await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

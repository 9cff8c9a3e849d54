"""The durable outbox worker: claims due deliveries FIFO per lane, passes the rate limiter,
calls the adapters through the Relayer and applies one error policy.

Woken by intake commits (an event), not by a polling interval; sleeps until the next
scheduled attempt otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core import texts
from core.clock import Clock
from core.errors import (
    DeliveryError,
    NotModified,
    PermanentError,
    RecipientUnreachable,
    RetryAfter,
    TopicClosed,
    TopicMissing,
)
from core.model import DESK, Action, Delivery, DeliveryStatus, desk_lane
from core.notices import enqueue_notice
from core.ports import Handover, StorePort
from core.relay import Relayer, Step

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    max_attempts: int = 10
    workers: int = 8
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    lease: timedelta = timedelta(seconds=30)
    exclusive: bool = True  # the only process on this database (SQLite): reclaim everything
    idle_check: float = 30.0


class Outbox:
    def __init__(
        self,
        store: StorePort,
        clock: Clock,
        relayer: Relayer,
        targets: Sequence[str],
        settings: OutboxSettings,
        desk_chat_id: str,
    ) -> None:
        self._store = store
        self._clock = clock
        self._relayer = relayer
        self._targets = list(targets)
        self._settings = settings
        self._desk_chat = desk_chat_id
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

    def wake(self, targets: Iterable[str] | None = None) -> None:
        """New work was committed (for `targets`, or anywhere)."""
        woken = self._targets if targets is None else list(targets)
        self._dirty.update(woken)
        for target in woken:
            self._wakes[target] = self._wakes.get(target, 0) + 1
        self._event.set()

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
        return self._clock.now() + self._settings.lease

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
        now = self._clock.now()
        horizon = now + self._settings.lease if self._settings.exclusive else now
        released = await self._store.release_stale(horizon)
        if released:
            logger.info("outbox: %d deliveries interrupted by a previous stop are due again",
                        released)
        self._running = True
        if self._settings.exclusive:
            await self._loop()
            return
        heartbeat = asyncio.create_task(self._heartbeat(), name="outbox-heartbeat")
        try:
            await self._loop()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self) -> None:
        """Renew the leases of rows in flight, so a long rate-limit wait never lets another
        process take them, while a crashed process's rows come free one lease later."""
        period = self._settings.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            ids = [i for held in self._held.values() for i in held]
            try:
                if ids:
                    await self._store.extend_leases(ids, self._clock.now() + self._settings.lease)
                # Rows of a process that died are due again once their lease has run out.
                if await self._store.release_stale(self._clock.now()):
                    self.wake()
            except Exception:
                logger.exception("outbox: lease renewal failed")

    async def _loop(self) -> None:
        while not self._stopping:
            self._event.clear()
            await self._dispatch()
            if self._stopping:
                break
            if self._dirty:
                continue  # woken while dispatching, or more heads than slots: look again
            timeout = await self._sleep_for()
            if timeout == 0:
                # Due heads we could not take: every slot busy (a finishing lane wakes us)
                # or locked by another process. Never spin on them.
                timeout = 0.2
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                self._dirty.update(self._targets)  # a retry or an album became due

    async def _dispatch(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for target in self._targets:
            if target not in dirty:
                continue
            busy = sum(1 for t in self._lanes.values() if t == target)
            free = self._settings.workers - busy
            if free <= 0:
                continue
            now = self._clock.now()
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
        return self._clock.now() + self._settings.lease

    async def _sleep_for(self) -> float:
        due = await self._store.next_due_at(set(self._lanes))
        if due is None:
            return self._settings.idle_check
        return min(max((due - self._clock.now()).total_seconds(), 0.0),
                   self._settings.idle_check)

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
                        head.lane, self._clock.now(), 100, self._lease_until(), claimed[-1].id,
                        held=[d.id for d in claimed],
                    )
                    claimed += followers.rows
                self._held[head.lane] = [d.id for d in claimed]
                if not await self._process(claimed) or self._stopping:
                    break
                seen = self._wakes.get(target, 0)
                last = claimed[-1].id
                # Born claimed while this lane ran (it was empty in the database) first:
                # anything pending in the lane was committed after them.
                claimed = self._adopted.pop(head.lane, [])
                if not claimed:
                    claim = await self._store.claim_next(
                        head.lane, self._clock.now(), 100, self._lease_until(), last
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
        busy = sum(1 for t in self._lanes.values() if t == target)
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

    async def _process(self, claimed: list[Delivery]) -> bool:
        """Run the claimed rows in order. False when the lane must pause (FIFO holds)."""
        steps = await self._relayer.plan(claimed)
        for index, step in enumerate(steps):
            if not await self._run_step(step):
                rest = [d.id for s in steps[index + 1:] for d in s.deliveries]
                if rest:
                    await self._store.release(rest)
                return False
        return True

    async def _run_step(self, step: Step, retries_left: int = 2) -> bool:
        try:
            await self._relayer.execute(step)
        except NotModified:
            await self._store.complete([d.id for d in step.deliveries])
        except RetryAfter as exc:
            # Not a failure: the platform set a pause. Nothing goes to that bucket before it
            # ends (the limiter blocks every lane that shares it).
            if exc.bucket:
                self._relayer.limiter.pause(exc.bucket, exc.seconds)
            at = self._clock.now() + timedelta(seconds=exc.seconds)
            await self._reschedule(step, at, str(exc), count=False)
            return False
        except (TopicMissing, TopicClosed) as exc:
            if step.deliveries[0].conversation_id is None:
                # A post into a topic of no conversation (/report asked for in a topic that
                # was deleted since): no topic to make again, and retrying would hold the
                # General lane for ever. It can't be delivered.
                await self._dead(step, str(exc))
                return True
            if retries_left <= 0:
                return await self._transient(step, exc)
            await self._repair_topic(step, exc)
            return await self._run_step(step, retries_left - 1)
        except RecipientUnreachable as exc:
            await self._unreachable(step, exc)
        except PermanentError as exc:
            await self._dead(step, str(exc))
        except DeliveryError as exc:
            return await self._transient(step, exc)
        except Exception as exc:  # a bug in an adapter must not stop the outbox
            logger.exception("unexpected error delivering %s", [d.id for d in step.deliveries])
            return await self._transient(step, exc)
        return True

    async def _repair_topic(self, step: Step, exc: Exception) -> None:
        first = step.deliveries[0]
        if first.conversation_id is None:
            raise exc
        conversation = await self._store.get_conversation(first.conversation_id)
        if conversation.topic_id is None:
            return
        if isinstance(exc, TopicMissing):
            logger.warning("topic %s is gone; conversation %s gets a new one",
                           conversation.topic_id, conversation.id)
            await self._store.forget_topic(conversation.topic_id)
        else:
            logger.info("topic %s is closed; reopening it", conversation.topic_id)
            await self._relayer.reopen_topic(conversation.topic_id)

    async def _transient(self, step: Step, exc: BaseException) -> bool:
        attempts = max(d.attempts for d in step.deliveries) + 1
        if attempts >= self._settings.max_attempts:
            await self._dead(step, f"{type(exc).__name__}: {exc}", attempts)
            return True
        delay = min(self._settings.backoff_base * 2 ** (attempts - 1), self._settings.backoff_max)
        delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
        logger.warning("delivery %s failed (%s), attempt %d, retry in %.1fs",
                       [d.id for d in step.deliveries], exc, attempts, delay)
        await self._reschedule(step, self._clock.now() + timedelta(seconds=delay), str(exc),
                               count=True)
        return False

    async def _reschedule(self, step: Step, at: datetime, error: str, *, count: bool) -> None:
        async with self._store.transaction():
            for d in step.deliveries:
                await self._store.reschedule(
                    d.id, at, error[:500], d.attempts + 1 if count else d.attempts
                )

    async def _unreachable(self, step: Step, exc: RecipientUnreachable) -> None:
        """Blocked or denied: no retry storm; mark the identity and tell operators."""
        first = step.deliveries[0]
        async with self._store.transaction():
            identity = await self._store.find_identity_by_chat(first.target, first.chat_id)
            if identity is not None and identity.reachable:
                await self._store.set_reachable(identity.id, False)
            for d in step.deliveries:
                await self._store.finish(d.id, DeliveryStatus.FAILED, str(exc)[:500])
            if first.conversation_id is not None and first.action is not Action.TEXT:
                await self._notice(first.conversation_id,
                                   texts.render("not_delivered_blocked"))
        self.wake()

    async def _dead(self, step: Step, reason: str, attempts: int | None = None) -> None:
        first = step.deliveries[0]
        logger.error("delivery %s dead-lettered: %s", [d.id for d in step.deliveries], reason)
        async with self._store.transaction():
            for d in step.deliveries:
                await self._store.finish(d.id, DeliveryStatus.DEAD, reason[:500])
            if first.target != DESK and first.conversation_id is not None:
                await self._notice(first.conversation_id,
                                   texts.render("not_delivered", reason=reason))
            elif first.lane != desk_lane(None):  # never loop on a failing General topic
                await self._store.enqueue(
                    lane=desk_lane(None), target=DESK, chat_id=self._desk_chat,
                    action=Action.TEXT, now=self._clock.now(),
                    body={"html": texts.render(
                        "dead_letter", target="the operator topic",
                        attempts=attempts or first.attempts + 1, reason=reason,
                        topic_link=f"conversation #{first.conversation_id}"
                        if first.conversation_id else None)},
                )
        self.wake()

    async def _notice(self, conversation_id: int, html: str) -> None:
        await enqueue_notice(self._store, self._clock.now(), self._desk_chat, conversation_id,
                             html)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let in-flight lanes finish their current call or stay queued."""
        self._stopping = True
        self._event.set()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

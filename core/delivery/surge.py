"""Surge notices: the team learns why posts are late; and how a desk lane holds for its
group's budget (`BudgetHold`, used by the outbox).

The desk's limit is Telegram's budget for each group (about 20 posts a minute, all topics
together). When more posts wait for a group's budget than one window lets through, that
group's General topic gets one notice (how many wait, how late a post may be); when its
queue is back to a quarter of a window, one more. With departments in their own groups
every group is watched on its own. Each surge is recorded for `/report`.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from core.clock import Clock
from core.delivery.desks import Desks
from core.delivery.fairness import FairBudget
from core.delivery.queue import Queue
from core.delivery.ratelimit import Interrupted
from core.model import DESK, Delivery, DeskPost
from core.ports import RateKey
from core.unit import Transactions, Unit

if TYPE_CHECKING:
    from core.delivery.policy import DeliveryPolicy
    from core.delivery.relay import Relayer, RelayStore, Step

logger = logging.getLogger(__name__)


MAIN = ""  # the operator group's key (a department's group: its chat id)


@dataclass(frozen=True, slots=True)
class SurgePeriod:
    started: datetime
    ended: datetime | None
    peak: int  # the most posts waiting at once
    group: str = MAIN


class SurgeStore(Protocol):
    async def desk_backlogs(self, main_chat: str) -> dict[str, int]:
        """Posts into each group not made yet (pending or in flight), by group key."""
        ...
    async def surge_started(self, group: str, at: datetime, waiting: int) -> None: ...
    async def surge_peak(self, group: str, waiting: int) -> None: ...
    async def surge_ended(self, group: str, at: datetime) -> None: ...
    async def open_surges(self) -> list[SurgePeriod]: ...
    async def surges(self, since: datetime, until: datetime) -> list[SurgePeriod]: ...


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min" if seconds >= 60 else f"{round(seconds)} s"


class SurgeWatch:
    def __init__(self, store: SurgeStore, transactions: Transactions, queue: Queue,
                 desks: Desks, clock: Clock) -> None:
        self._store = store
        self._transactions = transactions
        self._queue = queue
        self._desks = desks
        self._clock = clock
        self.active: dict[str, SurgePeriod] = {}  # by group key
        self._loaded = False

    def _budget(self, group: str) -> RateKey:
        """The group's own limit: the tightest of its keys."""
        keys = self._desks.by_chat(group or None).rate_keys()
        return min(keys, key=lambda k: k.count / k.window)

    def _chat(self, group: str) -> str | None:
        """Where the group's General is (None: the operator group)."""
        return group or None

    async def run(self, every: float) -> None:
        while True:
            try:
                await self.look()
            except Exception:
                logger.exception("surge watch: a look failed; tried again later")
            await asyncio.sleep(every)

    async def look(self) -> None:
        """One count query for every group; a notice where a surge starts or ends."""
        if not self._loaded:  # a surge still open when the process stopped goes on
            self.active = {p.group: p for p in await self._store.open_surges()}
            self._loaded = True
        main = str(self._desks.main.chat_id)
        backlogs = await self._store.desk_backlogs(main)
        for group in sorted(set(backlogs) | set(self.active)):
            await self._look_at(group, backlogs.get(group, 0))

    async def _look_at(self, group: str, waiting: int) -> None:
        budget, active = self._budget(group), self.active.get(group)
        if active is None and waiting >= budget.count:
            await self._transactions.run(lambda unit: self._enter(unit, group, waiting))
        elif active is not None and waiting <= budget.count // 4:
            await self._transactions.run(lambda unit: self._leave(unit, group, active))
        elif active is not None and waiting > active.peak:
            await self._store.surge_peak(group, waiting)
            self.active[group] = SurgePeriod(active.started, None, waiting, group)

    async def _enter(self, unit: Unit, group: str, waiting: int) -> None:
        budget = self._budget(group)
        late = waiting * budget.window / budget.count
        await self._store.surge_started(group, unit.now, waiting)
        await self._queue.general(unit, DeskPost(
            f"🌊 <b>Surge</b>: {waiting} posts are waiting for the group's budget "
            f"(Telegram allows {budget.count} per {_minutes(budget.window)}); a new post may "
            f"appear up to {_minutes(late)} late. Customers waiting for a first answer go "
            "first; a customer's texts written meanwhile arrive together."), self._chat(group))
        self.active[group] = SurgePeriod(unit.now, None, waiting, group)
        logger.warning("surge in group %s: %d posts waiting for its budget (~%.0fs)",
                       group or "main", waiting, late)

    async def _leave(self, unit: Unit, group: str, active: SurgePeriod) -> None:
        took = (unit.now - active.started).total_seconds()
        await self._store.surge_ended(group, unit.now)
        await self._queue.general(unit, DeskPost(
            f"✅ <b>Surge over</b> after {_minutes(took)}: posts appear at once again "
            f"(at most {active.peak} were waiting)."), self._chat(group))
        logger.warning("surge in group %s over after %.0fs, peak %d waiting",
                       group or "main", took, active.peak)
        self.active.pop(group, None)


class SurgeReport:
    """The surges of a period, for `/report` (core.report_sections)."""

    def __init__(self, store: SurgeStore, zone: ZoneInfo) -> None:
        self._store = store
        self._zone = zone

    async def report_html(self, since: datetime, until: datetime) -> str | None:
        periods = await self._store.surges(since, until)
        if not periods:
            return None
        lines = ["🌊 <b>Surges</b> (more posts than the group's budget let through)"]
        for p in periods:
            start = p.started.astimezone(self._zone)
            end = p.ended.astimezone(self._zone).strftime("%H:%M") if p.ended else "now"
            took = ((p.ended or until) - p.started) / timedelta(seconds=1)
            lines.append(html.escape(f"• {start:%d.%m %H:%M}–{end} ({_minutes(took)}), "
                                     f"peak {p.peak} waiting", quote=False))
        return "\n".join(lines)


class BudgetHold:
    """Coalescing and fair order on the outbox's side (core.delivery.coalesce, fairness):
    a desk lane that would only wait for its group's budget waits before planning, then
    takes what its customer wrote meanwhile, so the texts can share a post; while the
    group is pressed, a lane behind customers of a better rank holds for them first. Without
    surge handling, or with budget to spare, lanes run as they are."""

    def __init__(self, store: RelayStore, relayer: Relayer, now: Callable[[], datetime],
                 lease_until: Callable[[], datetime | None], lanes: Callable[[], set[str]],
                 stopping: Callable[[], bool], held: dict[str, list[int]],
                 spin_guard: float) -> None:
        self._store = store
        self._relayer = relayer
        self._now = now
        self._lease_until = lease_until
        self._lanes = lanes  # the lanes this process runs now
        self._stopping = stopping
        self._held = held  # lane -> rows it has claimed (the outbox renews their leases)
        self._spin_guard = spin_guard

    async def hold(self, lane: str, claimed: list[Delivery]) -> tuple[list[Delivery], bool]:
        """The lane's rows once it may send, and True when it had to wait (its texts are
        coalesced then); no rows: it gave its slot to a head waiting for one."""
        fairs = self._relayer.fair
        if self._relayer.coalescer is None or fairs is None or claimed[0].target != DESK:
            return claimed, False
        conversation_id = claimed[0].conversation_id
        fair = await fairs.of(conversation_id)
        wait = fair.delay(1)
        if wait <= 0 and not (fair.pressed() and await fair.gives_way(conversation_id)):
            return claimed, False
        patience = self._relayer.desks.patience
        if patience is not None and wait > patience:
            # The desks' patience (core.delivery.desks): a longer wait for this group's
            # budget is not waited here but in the queue (the send raises WaitTooLong and
            # the worker goes back), so the other groups' posts go on; the rows come back
            # together, coalesced.
            return claimed, True
        while True:
            if await self._yield_slot(fair, claimed):
                return [], True
            try:
                await fair.wait(conversation_id)
            except Interrupted:
                return claimed, True  # the send is interrupted and goes back to the queue
            more = await self._store.claim_next(
                lane, self._now(), 100, self._lease_until(), claimed[-1].id,
                held=[d.id for d in claimed])
            claimed = claimed + more.rows
            self._held[lane] = [d.id for d in claimed]
            if self._stopping() or fair.delay(1) <= 0:
                return claimed, True

    async def _yield_slot(self, fair: FairBudget, claimed: list[Delivery]) -> bool:
        """Under pressure, a lane of a customer operators already see gives its worker
        slot to a head waiting for one (fairness's first rank may be among them): its rows
        wait, due when the budget has room again, and go out together then."""
        if await fair.rank(claimed[0].conversation_id) == 0:
            return False
        now = self._now()
        due = await self._store.next_due_at(self._lanes(), [DESK])
        if due is None or due > now:
            return False
        at = now + timedelta(seconds=fair.delay(1) + self._spin_guard)
        for d in claimed:
            await self._store.reschedule(d.id, at, None, d.attempts)
        return True

    async def run_step(self, policy: DeliveryPolicy, step: Step, pressed: bool) -> bool:
        """One step through the policy; a desk step takes its turn at its group's budget
        (core.delivery.fairness) when surge handling is on."""
        fairs = self._relayer.fair
        if fairs is None or step.deliveries[0].target != DESK:
            return await policy.run(step)
        conversation_id = step.deliveries[0].conversation_id
        fair = await fairs.of(conversation_id)
        async with fair.turn(conversation_id, max(len(step.items), 1), pressed):
            return await policy.run(step)

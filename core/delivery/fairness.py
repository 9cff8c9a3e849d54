"""Fair order across topics when the group's budget is spent.

Every topic shares the group's budget, so under pressure someone waits. Three ranks go in
this order: a customer operators can't see yet (their topic has no post), then a customer
still waiting for the first human answer, then more messages from a customer who already
got one. While lanes of a better rank wait, a lane leaves one more free place in the
window per such lane before it sends. Within a lane the order stays FIFO (a lane sends its
rows in order; only lanes compete). With budget to spare nobody waits here.

Every group with its own budget has its own order (`FairBudgets`): a department group's
rush never holds back the operator group's first-timers, nor the other way round. A group
is *pressed* from the moment a lane finds its window full until one window after the last
lane had to wait: holding and coalescing start then, not only once a surge is announced.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar

from core.delivery.desks import Desks
from core.delivery.ratelimit import SlidingWindowLimiter
from core.ports import DeskPort, RateKey, Store

# How many places a lane's sends leave free for first-timers waiting; set around a desk
# step by the outbox (each lane is its own task), read by the relay's rate-limit waits.
_leave: ContextVar[Callable[[], int] | None] = ContextVar("fair_leave", default=None)


def leave() -> Callable[[], int] | None:
    return _leave.get()


class FairBudget:
    """One group's budget under pressure."""

    def __init__(self, limiter: SlidingWindowLimiter, keys: Callable[[], Sequence[RateKey]],
                 store: Store, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._limiter = limiter
        self._keys_of = keys  # the group's keys as they are now (a reload changes them)
        self._store = store
        self._now = monotonic
        self._waiting = [0, 0, 0]  # lanes waiting here, per rank (see `rank`)
        self._full_at: float | None = None  # when a lane last found the window full
        self.waits = 0  # how often a lane waited here (the bench and tests look)

    @property
    def keys(self) -> Sequence[RateKey]:
        return self._keys_of()

    @property
    def _group(self) -> RateKey:
        """The group's own limit: the tightest of its keys (the others are the bot's)."""
        return min(self.keys, key=lambda k: k.count / k.window)

    def delay(self, n: int = 1) -> float:
        """Seconds until `n` sends fit the group's window; the group's own window full
        marks the group pressed (see `pressed`)."""
        wait = self._limiter.delay(self.keys, n)
        if wait > 0 and self._limiter.delay([self._group], n) > 0:
            self._full_at = self._now()
        return wait

    def pressed(self) -> bool:
        """The group's budget is the bottleneck: lanes wait for it, or one found the window
        full less than a window ago (the next window will be full again while a backlog
        lasts). Held texts are coalesced then, and answered customers give way."""
        if any(self._waiting):
            return True
        if self._full_at is None:
            return False
        return self._now() - self._full_at < self._group.window

    async def rank(self, conversation_id: int | None) -> int:
        """0: operators can't see the customer yet; 1: awaiting a first answer; 2: else."""
        if conversation_id is None:
            return 2
        conversation = await self._store.get_conversation(conversation_id)
        if not conversation.card_posted:
            return 0
        return 1 if conversation.first_response_at is None else 2

    async def gives_way(self, conversation_id: int | None) -> bool:
        """Whether lanes of a better rank than this conversation's wait here now."""
        if not any(self._waiting):
            return False
        return sum(self._waiting[:await self.rank(conversation_id)]) > 0

    def _ahead(self, rank: int) -> Callable[[], int]:
        return lambda: sum(self._waiting[:rank])

    @property
    def _first_timers(self) -> int:
        return self._waiting[0] + self._waiting[1]

    @asynccontextmanager
    async def turn(self, conversation_id: int | None, n: int = 1, pressed: bool = False
                   ) -> AsyncIterator[None]:
        """Around one desk step of a lane: while it waits for the budget, it leaves a free
        place per lane of a better rank waiting. `pressed`: the lane has waited already
        (its rank counts until its step is sent)."""
        if not pressed and self.delay(n) <= 0 and not self._first_timers:
            # Budget to spare: nothing is read. Should the budget run out while this step
            # waits, it yields to better ranks then waiting, as an answered customer's.
            token = _leave.set(self._ahead(2))
            try:
                yield
            finally:
                _leave.reset(token)
            return
        self.waits += 1
        rank = await self.rank(conversation_id)
        self._waiting[rank] += 1
        token = _leave.set(self._ahead(rank))
        try:
            yield
        finally:
            _leave.reset(token)
            self._waiting[rank] -= 1

    async def wait(self, conversation_id: int | None, n: int = 1) -> None:
        """Return once this lane's `n` sends may go, better ranks first. Raises
        Interrupted when the process stops."""
        if self.delay(n) <= 0 and not self._first_timers:
            return
        self.waits += 1
        rank = await self.rank(conversation_id)
        self._waiting[rank] += 1
        ahead = self._ahead(rank)
        try:
            while True:
                need = n + ahead()
                if self._limiter.delay(self.keys, need) <= 0:
                    return
                await self._limiter.wait(self.keys, need)
        finally:
            self._waiting[rank] -= 1


class FairBudgets:
    """A FairBudget per group with its own budget (the operator group, departments' own
    groups); a lane's group is its conversation's (read only when there are several)."""

    def __init__(self, limiter: SlidingWindowLimiter, desks: Desks, store: Store) -> None:
        self._limiter = limiter
        self._desks = desks
        self._store = store
        self._budgets: dict[str, FairBudget] = {}

    def _of_desk(self, desk: DeskPort) -> FairBudget:
        budget = self._budgets.get(desk.chat_id)
        if budget is None:
            budget = FairBudget(self._limiter, desk.rate_keys, self._store)
            self._budgets[desk.chat_id] = budget
        return budget

    @property
    def main(self) -> FairBudget:
        return self._of_desk(self._desks.main)

    async def of(self, conversation_id: int | None) -> FairBudget:
        """The budget of the group a desk lane posts into."""
        if conversation_id is None or not self._desks.several:
            return self.main
        conversation = await self._store.get_conversation(conversation_id)
        return self._of_desk(self._desks.of(conversation))

    @property
    def waits(self) -> int:
        """How often a lane waited for any group's budget (the bench and tests look)."""
        return sum(b.waits for b in self._budgets.values())

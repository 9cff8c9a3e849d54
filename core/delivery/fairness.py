"""Fair order across topics when the group's budget is spent.

Every topic shares the group's budget, so under pressure someone waits. Three ranks go in
this order: a customer operators can't see yet (their topic has no post), then a customer
still waiting for the first human answer, then more messages from a customer who already
got one. While lanes of a better rank wait, a lane leaves one more free place in the
window per such lane before it sends. Within a lane the order stays FIFO (a lane sends its
rows in order; only lanes compete). With budget to spare nobody waits here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar

from core.delivery.ratelimit import SlidingWindowLimiter
from core.ports import RateKey, Store

# How many places a lane's sends leave free for first-timers waiting; set around a desk
# step by the outbox (each lane is its own task), read by the relay's rate-limit waits.
_leave: ContextVar[Callable[[], int] | None] = ContextVar("fair_leave", default=None)


def leave() -> Callable[[], int] | None:
    return _leave.get()


class FairBudget:
    def __init__(self, limiter: SlidingWindowLimiter, keys: Sequence[RateKey],
                 store: Store) -> None:
        self._limiter = limiter
        self._keys = keys
        self._store = store
        self._waiting = [0, 0, 0]  # lanes waiting here, per rank (see `rank`)
        self.waits = 0  # how often a lane waited here (the bench and tests look)

    async def rank(self, conversation_id: int | None) -> int:
        """0: operators can't see the customer yet; 1: awaiting a first answer; 2: else."""
        if conversation_id is None:
            return 2
        conversation = await self._store.get_conversation(conversation_id)
        if not conversation.card_posted:
            return 0
        return 1 if conversation.first_response_at is None else 2

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
        if not pressed and self._limiter.delay(self._keys, n) <= 0 \
                and not self._first_timers:
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
        if self._limiter.delay(self._keys, n) <= 0 and not self._first_timers:
            return
        self.waits += 1
        rank = await self.rank(conversation_id)
        self._waiting[rank] += 1
        ahead = self._ahead(rank)
        try:
            while True:
                need = n + ahead()
                if self._limiter.delay(self._keys, need) <= 0:
                    return
                await self._limiter.wait(self._keys, need)
        finally:
            self._waiting[rank] -= 1

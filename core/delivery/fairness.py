"""Fair order across topics when the group's budget is spent.

Every topic shares the group's budget, so under pressure someone waits. A customer who is
still waiting for the first human answer goes before more messages from a customer who
already got one: while such a customer waits, the others' lanes wait for one more free
place in the window per first-timer waiting. Within a lane the order stays FIFO (a lane
sends its rows in order; only lanes compete). With budget to spare nobody waits here.
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
        self._first_timers = 0  # lanes of customers awaiting a first answer, waiting here
        self.waits = 0  # how often a lane waited here (the bench and tests look)

    async def awaits_first_answer(self, conversation_id: int | None) -> bool:
        if conversation_id is None:
            return False
        conversation = await self._store.get_conversation(conversation_id)
        return conversation.first_response_at is None

    @asynccontextmanager
    async def turn(self, conversation_id: int | None, n: int = 1) -> AsyncIterator[None]:
        """Around one desk step of a lane: while it waits for the budget, a lane of an
        answered customer leaves a place free per first-timer waiting."""
        if self._limiter.delay(self._keys, n) <= 0 and not self._first_timers:
            # Budget to spare: nothing is read. Should the budget run out while this step
            # waits, it yields to first-timers then waiting, as an answered customer's.
            token = _leave.set(self._waiting_first_timers)
            try:
                yield
            finally:
                _leave.reset(token)
            return
        self.waits += 1
        first = await self.awaits_first_answer(conversation_id)
        self._first_timers += first
        token = _leave.set(_none if first else self._waiting_first_timers)
        try:
            yield
        finally:
            _leave.reset(token)
            self._first_timers -= first

    def _waiting_first_timers(self) -> int:
        return self._first_timers

    async def wait(self, conversation_id: int | None, n: int = 1) -> None:
        """Return once this lane's `n` sends may go, first-timers first. Raises
        Interrupted when the process stops."""
        if self._limiter.delay(self._keys, n) <= 0 and not self._first_timers:
            return
        self.waits += 1
        first = await self.awaits_first_answer(conversation_id)
        self._first_timers += first
        try:
            while True:
                need = n if first else n + self._first_timers
                if self._limiter.delay(self._keys, need) <= 0:
                    return
                await self._limiter.wait(self._keys, need)
        finally:
            self._first_timers -= first


def _none() -> int:
    return 0

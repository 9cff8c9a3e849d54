"""A flood's held messages of one chat's run of updates, stored together.

A poller hands intake one chat's updates of a batch one after another, and confirms the
batch to the platform only once all of them are committed; other chats' updates queued
behind the batch wait for it. A message over a flood limit (`Lifecycle.over_limit`) is
stored, not relayed; stored in a unit of its own it costs a transaction each (several round
trips on PostgreSQL), so a flood of 1 000 messages kept everybody behind it waiting for
1 000 transactions.

Inside a run (`HeldRun`, opened by the poller around one chat's updates of a batch), a held
message waits in memory, and what the run holds is stored in one unit (one multi-row
statement for the messages of a conversation, one for their events) when the run settles:
before anything else of the run is taken in (so the chat's order stays), and when the run
ends, before the poller confirms the batch (so nothing confirmed is unstored). Outside a
run (webhooks, VK, MAX) a held message is stored at once, in its own unit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass

from core.model import InboundCustomerMessage

logger = logging.getLogger(__name__)

StoreAll = Callable[[Sequence[InboundCustomerMessage]], Awaitable[None]]
StoreOne = Callable[[InboundCustomerMessage], Awaitable[object]]


class Unsettled(Exception):
    """A held message of the run could not be stored (the cause is chained); `tag`: the
    update it came with. Those before it are stored; it and those after are still held."""

    def __init__(self, tag: int | None) -> None:
        super().__init__(f"a held message of update {tag} could not be stored")
        self.tag = tag


@dataclass(frozen=True, slots=True)
class _Kept:
    tag: int | None
    inbound: InboundCustomerMessage


class HeldRun:
    """One chat's run of updates. `tag` is set by the poller to the update being handled;
    a held message is kept with it, so a failure to store is the update's failure."""

    def __init__(self, store_all: StoreAll, store_one: StoreOne) -> None:
        self._store_all = store_all
        self._store_one = store_one
        self._kept: list[_Kept] = []
        self._token: Token[HeldRun | None] | None = None
        self._task: asyncio.Task[object] | None = None
        self.tag: int | None = None

    def __enter__(self) -> HeldRun:
        self._token = _current.set(self)
        self._task = asyncio.current_task()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None

    @property
    def pending(self) -> bool:
        return bool(self._kept)

    def keep(self, inbound: InboundCustomerMessage) -> None:
        self._kept.append(_Kept(self.tag, inbound))

    def drop(self, tag: int | None) -> None:
        """Give up the held messages of update `tag` (the poller skips it)."""
        self._kept = [kept for kept in self._kept if kept.tag != tag]

    async def settle(self) -> None:
        """Store what the run holds: in one unit; when that fails, one unit each (as
        outside a run), so the message that can't be stored is known (`Unsettled`)."""
        kept, self._kept = self._kept, []
        if not kept:
            return
        try:
            await self._store_all([k.inbound for k in kept])
            return
        except Exception:
            logger.warning("storing %d held messages in one unit failed; one at a time",
                           len(kept), exc_info=True)
        for index, item in enumerate(kept):
            try:
                await self._store_one(item.inbound)
            except Exception as exc:
                self._kept = kept[index:]
                raise Unsettled(item.tag) from exc


_current: ContextVar[HeldRun | None] = ContextVar("relaydesk_held_run", default=None)


def current_run() -> HeldRun | None:
    """The run the running update belongs to (None: outside a run). Only the task that
    opened it takes part: a task started from a handler copies the context, not the run."""
    run = _current.get()
    return run if run is not None and run._task is asyncio.current_task() else None


async def settle_current() -> None:
    """Before anything else of the run is taken in, its held messages are stored."""
    run = current_run()
    if run is not None and run.pending:
        await run.settle()

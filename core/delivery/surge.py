"""Surge notices: the team learns why posts are late.

The desk's limit is Telegram's budget for the group (about 20 posts a minute, all topics
together). When more posts wait for it than one window lets through, the General topic
gets one notice (how many wait, how late a post may be); when the queue is back to a
quarter of a window, one more. Each surge is recorded for `/report`.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from core.clock import Clock
from core.delivery.queue import Queue
from core.model import DeskPost
from core.ports import RateKey
from core.unit import Transactions, Unit

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SurgePeriod:
    started: datetime
    ended: datetime | None
    peak: int  # the most posts waiting at once


class SurgeStore(Protocol):
    async def desk_backlog(self) -> int:
        """Posts into the group not made yet (pending or in flight)."""
        ...
    async def surge_started(self, at: datetime, waiting: int) -> None: ...
    async def surge_peak(self, waiting: int) -> None: ...
    async def surge_ended(self, at: datetime) -> None: ...
    async def open_surge(self) -> SurgePeriod | None: ...
    async def surges(self, since: datetime, until: datetime) -> list[SurgePeriod]: ...


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min" if seconds >= 60 else f"{round(seconds)} s"


class SurgeWatch:
    def __init__(self, store: SurgeStore, transactions: Transactions, queue: Queue,
                 keys: Sequence[RateKey], clock: Clock) -> None:
        self._store = store
        self._transactions = transactions
        self._queue = queue
        self._group = min(keys, key=lambda k: k.count / k.window)  # the tightest budget
        self._clock = clock
        self.active: SurgePeriod | None = None
        self._loaded = False

    def surging(self) -> bool:
        return self.active is not None

    async def run(self, every: float) -> None:
        while True:
            try:
                await self.look()
            except Exception:
                logger.exception("surge watch: a look failed; tried again later")
            await asyncio.sleep(every)

    async def look(self) -> None:
        if not self._loaded:  # a surge still open when the process stopped goes on
            self.active, self._loaded = await self._store.open_surge(), True
        waiting = await self._store.desk_backlog()
        group = self._group
        if self.active is None and waiting >= group.count:
            await self._transactions.run(lambda unit: self._enter(unit, waiting))
        elif self.active is not None and waiting <= group.count // 4:
            await self._transactions.run(self._leave)
        elif self.active is not None and waiting > self.active.peak:
            await self._store.surge_peak(waiting)
            self.active = SurgePeriod(self.active.started, None, waiting)

    async def _enter(self, unit: Unit, waiting: int) -> None:
        group = self._group
        late = waiting * group.window / group.count
        await self._store.surge_started(unit.now, waiting)
        await self._queue.general(unit, DeskPost(
            f"🌊 <b>Surge</b>: {waiting} posts are waiting for the group's budget "
            f"(Telegram allows {group.count} per {_minutes(group.window)}); a new post may "
            f"appear up to {_minutes(late)} late. Customers waiting for a first answer go "
            "first; a customer's texts written meanwhile arrive together."))
        self.active = SurgePeriod(unit.now, None, waiting)
        logger.warning("surge: %d posts waiting for the group's budget (~%.0fs)", waiting,
                       late)

    async def _leave(self, unit: Unit) -> None:
        assert self.active is not None
        took = (unit.now - self.active.started).total_seconds()
        await self._store.surge_ended(unit.now)
        await self._queue.general(unit, DeskPost(
            f"✅ <b>Surge over</b> after {_minutes(took)}: posts appear at once again "
            f"(at most {self.active.peak} were waiting)."))
        logger.warning("surge over after %.0fs, peak %d waiting", took, self.active.peak)
        self.active = None


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

"""Long polling `GET /updates` with the marker kept in the database.

The marker is sent on every request (without one MAX now returns only the latest update)
and moves on only after the handler has stored the batch: asking again with the same marker
after a lost answer, a failing handler or a crash gets the same updates again
(at-least-once; intake deduplicates). The moved marker is saved in the background, the
latest one at a time, while the next request already waits: its writes were on every
update's way (on PostgreSQL a round trip each, ≈ 0.3 ms here, beside the message's own).
A crash before the save lands gets those updates again after the restart, as a crash
before the handler finished always did; a stop waits for the save. Failures back off with a
capped, jittered delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from core.delivery.ratelimit import Interrupted

from .customer import UPDATE_TYPES
from .errors import MaxApiError, MaxNetworkError
from .transport import MaxApi, backoff_delay

logger = logging.getLogger(__name__)

Handler = Callable[[list[dict[str, Any]]], Awaitable[None]]
SaveMarker = Callable[[int], Awaitable[None]]


class MaxPolling:
    """Counters: `updates` (stored and confirmed), `failures` (requests that failed),
    `handler_failures`."""

    def __init__(self, api: MaxApi, *, marker: int | None, save: SaveMarker,
                 timeout: int = 30, limit: int = 100, backoff_base: float = 0.5,
                 backoff_max: float = 30.0, timeout_slack: float = 10.0) -> None:
        self._api = api
        self.marker = marker
        self._save = save
        self.timeout = timeout
        self.limit = limit
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.timeout_slack = timeout_slack
        self._stopping = asyncio.Event()
        self._inflight: asyncio.Task[Any] | None = None
        self.updates = 0
        self.failures = 0
        self.handler_failures = 0
        self._primed: list[dict[str, Any]] = []
        self._primed_marker: int | None = None
        self._unsaved: int | None = None  # the marker the saver is to write next
        self._saver: asyncio.Task[None] | None = None

    async def prime(self) -> None:
        """Without a stored marker (the first start), get one now, before the start is
        over: from then on nothing is lost. (Without a marker MAX gives only the latest
        update; what it gives is handled as the first batch.)"""
        if self.marker is not None:
            return
        answer = await self._api.request("GET", "/updates", {"timeout": 0,
                                                             "types": ",".join(UPDATE_TYPES)})
        marker = answer.get("marker") if isinstance(answer, dict) else None
        if marker is None:
            return
        self._primed = list(answer.get("updates") or [])
        if not self._primed:
            self._confirm(0, int(marker))
            await self.saved()
        else:
            self._primed_marker = int(marker)

    def resume_from(self, marker: int) -> None:
        """Go on from `marker` (saved by the process that polled before this one took over);
        what was primed at start is older than it and was handled there."""
        self.marker = marker
        self._primed, self._primed_marker = [], None

    async def wait_stopping(self) -> None:
        """Return once `stop()` was called (another process may poll: see bots/leading)."""
        await self._stopping.wait()

    def stop(self) -> None:
        """End `run` promptly: the waiting request is cancelled; a running handler finishes
        (and its marker is saved)."""
        self._stopping.set()
        if self._inflight is not None:
            self._inflight.cancel()

    async def run(self, handler: Handler) -> None:
        try:
            await self._poll(handler)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.saved())

    async def _poll(self, handler: Handler) -> None:
        failures = 0
        while not self._stopping.is_set():
            answer = await self._fetch()
            if answer is None:
                if self._stopping.is_set():
                    return
                failures += 1
                await self._sleep(backoff_delay(failures - 1, self.backoff_base,
                                                self.backoff_max))
                continue
            updates, marker = answer
            if updates:
                try:
                    await handler(updates)
                except Exception:
                    self.handler_failures += 1
                    failures += 1
                    delay = backoff_delay(failures - 1, self.backoff_base, self.backoff_max)
                    logger.exception("MAX: handling %d updates failed; asking again in "
                                     "%.2fs", len(updates), delay)
                    await self._sleep(delay)
                    continue
            failures = 0
            self._confirm(len(updates), marker)

    def _confirm(self, count: int, marker: int | None) -> None:
        self._primed = []
        self.updates += count
        if marker is None or marker == self.marker:
            return
        self.marker = self._unsaved = marker
        if self._saver is None or self._saver.done():
            self._saver = asyncio.create_task(self._save_latest(), name="max-marker")

    async def saved(self) -> None:
        """Return once the last moved marker is saved (or its save failed)."""
        while self._saver is not None and not self._saver.done():
            await self._saver

    async def _save_latest(self) -> None:
        while (marker := self._unsaved) is not None:
            self._unsaved = None
            try:
                await self._save(marker)
            except Exception:  # the updates are stored; at worst they come again after a restart
                logger.exception("MAX: saving marker %s failed", marker)

    async def _fetch(self) -> tuple[list[dict[str, Any]], int | None] | None:
        if self._primed:  # until handled: a failing handler gets it again
            return self._primed, self._primed_marker
        query = {"marker": self.marker, "timeout": self.timeout, "limit": self.limit,
                 "types": ",".join(UPDATE_TYPES)}
        self._inflight = asyncio.create_task(self._api.request(
            "GET", "/updates", query, wait=self.timeout + self.timeout_slack, retries=0))
        try:
            answer = await self._inflight
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._stopping.is_set() and not (task and task.cancelling()):
                return None
            raise
        except (MaxApiError, MaxNetworkError, Interrupted) as exc:
            self.failures += 1
            if not self._stopping.is_set():
                logger.warning("MAX GET /updates failed: %s", exc)
            return None
        finally:
            self._inflight = None
        if not isinstance(answer, dict) or not isinstance(answer.get("updates"), list):
            self.failures += 1
            logger.warning("MAX GET /updates answered something unusable: %.200r", answer)
            return None
        marker = answer.get("marker")
        return answer["updates"], int(marker) if marker is not None else None

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

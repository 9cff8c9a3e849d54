"""Durable long polling: an update is confirmed to Telegram (the offset moves past it) only
after its handler has committed it.

aiogram's own `start_polling` with `handle_as_tasks=True` confirms a batch before its
handlers finish, so a crash there loses messages. Here a batch is fetched, its updates are
handled — one chat after another in order, different chats concurrently — and only then is
the next `getUpdates` asked with the new offset.

Each chat's updates of a batch run inside a run of intake's (`runs`, core/intake/held.py):
messages held back by a flood limit are kept there and stored together, at the latest when
the chat's updates are done, before the offset moves past them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import GetUpdates
from aiogram.types import Update

from core.intake.held import HeldRun, Unsettled

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "my_chat_member", "callback_query"]
POISON_LIMIT = 5  # after this many failures an update is logged in full and skipped


def chat_key(update: Update) -> int | str:
    event = update.message or update.edited_message or update.my_chat_member
    if event is not None:
        return event.chat.id
    if update.callback_query is not None:
        return f"user:{update.callback_query.from_user.id}"
    return update.update_id


class DurablePoller:
    def __init__(self, bot: Bot, dispatcher: Dispatcher, *, timeout: int = 25,
                 backoff_max: float = 30.0, runs: Callable[[], HeldRun] | None = None
                 ) -> None:
        self._bot = bot
        self._dp = dispatcher
        self._runs = runs
        self._timeout = timeout
        self._backoff_max = backoff_max
        self._offset: int | None = None
        self._failures: dict[int, int] = {}
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()  # stopped for good (pause() stops for now)
        self._fetch: asyncio.Task[list[Update]] | None = None
        self.handled = 0
        # time.monotonic() of the last getUpdates answer (readiness: a poller that has not
        # had one for two poll timeouts is stuck); None before the first.
        self.last_answer: float | None = None
        self.started: float | None = None

    @property
    def timeout(self) -> int:
        return self._timeout

    async def run(self) -> None:
        delay = 0.5
        self.started = time.monotonic()
        while not self._stopping.is_set():
            try:
                updates = await self._get_updates()
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    return
                raise
            except TelegramRetryAfter as exc:  # flood control: exactly the pause it asks for
                logger.warning("getUpdates: flood control, asking again in %ss",
                               exc.retry_after)
                await self._sleep(exc.retry_after)
                continue
            except Exception as exc:  # network, 5xx, 409: back off and try again
                logger.warning("getUpdates failed (%s: %s); retrying in %.1fs",
                               type(exc).__name__, exc, delay)
                await self._sleep(delay)
                delay = min(delay * 2, self._backoff_max) * random.uniform(0.8, 1.2)  # noqa: S311
                continue
            delay = 0.5
            self.last_answer = time.monotonic()
            if updates:
                await self._handle_batch(updates)

    async def _get_updates(self) -> list[Update]:
        method = GetUpdates(offset=self._offset, timeout=self._timeout,
                            allowed_updates=ALLOWED_UPDATES)
        self._fetch = asyncio.create_task(
            self._bot(method, request_timeout=self._timeout + 10)  # type: ignore[arg-type]
        )
        try:
            return await self._fetch
        finally:
            self._fetch = None

    async def _handle_batch(self, updates: list[Update]) -> None:
        by_chat: dict[int | str, list[Update]] = defaultdict(list)
        for update in updates:
            by_chat[chat_key(update)].append(update)
        results = await asyncio.gather(*(self._handle_chat(u) for u in by_chat.values()))
        failed = [uid for chat_failed in results for uid in chat_failed]
        if failed:
            # Everything before the first failure is committed; later ones that did commit
            # are de-duplicated when Telegram sends them again.
            self._offset = min(failed)
            await self._sleep(0.5)
        else:
            self._offset = updates[-1].update_id + 1

    async def _handle_chat(self, updates: list[Update]) -> list[int]:
        """The chat's updates in order; the update to fetch again from (empty: all are
        committed)."""
        if self._runs is None:
            return await self._handle_in_order(updates, None)
        with self._runs() as run:  # this task's own: chats run concurrently
            return await self._handle_in_order(updates, run)

    async def _handle_in_order(self, updates: list[Update], run: HeldRun | None
                               ) -> list[int]:
        for update in updates:
            if run is not None:
                run.tag = update.update_id
            try:
                await self._dp.feed_update(self._bot, update)
                self.handled += 1
                self._failures.pop(update.update_id, None)
                # A held message is only kept in the run: no I/O, no await that waits. Let
                # other chats' updates and the outbox in between, or a flood's 100 updates
                # hold the event loop for all of their handling.
                await asyncio.sleep(0)
            except Exception as exc:
                # What earlier updates left in the run comes first.
                unsettled = await self._settle(run, updates)
                if unsettled:
                    return unsettled
                if self._give_up(update, exc):
                    continue
                # Keep this chat's order: nothing after a failed update is handled now.
                return [update.update_id]
        return await self._settle(run, updates)

    async def _settle(self, run: HeldRun | None, updates: list[Update]) -> list[int]:
        """Store what the run still holds; the update to fetch again from when it can't."""
        while run is not None and run.pending:
            try:
                await run.settle()
            except Unsettled as exc:
                update = next(u for u in updates if u.update_id == exc.tag)
                if not self._give_up(update, exc.__cause__ or exc):
                    return [update.update_id]
                run.drop(exc.tag)
        return []

    def _give_up(self, update: Update, exc: BaseException) -> bool:
        """Count a failure of `update`: True when it failed too often and is skipped."""
        count = self._failures.get(update.update_id, 0) + 1
        self._failures[update.update_id] = count
        if count >= POISON_LIMIT:
            logger.error("update %s failed %d times; skipping it: %s", update.update_id,
                         count, update.model_dump_json(exclude_none=True), exc_info=exc)
            self._failures.pop(update.update_id, None)
            return True
        logger.error("update %s failed (attempt %d); it will be fetched again",
                     update.update_id, count, exc_info=exc)
        return False

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def restart(self) -> None:
        """Ready to `run()` again after `pause()` (another term as the one poller). The
        offset starts afresh: Telegram sends what nobody confirmed, intake drops repeats."""
        if not self._stopped.is_set():
            self._stopping.clear()
        self._offset = None
        self.started = self.last_answer = None

    def pause(self) -> None:
        """Stop fetching for now (another process polls); `restart()` resumes."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()
        self.started = self.last_answer = None

    async def wait_stopped(self) -> None:
        """Return once `stop()` was called (not `pause()`)."""
        await self._stopped.wait()

    def stop(self) -> None:
        """Stop fetching; a batch being handled finishes first (its commits are awaited)."""
        self._stopping.set()
        self._stopped.set()
        if self._fetch is not None:
            self._fetch.cancel()

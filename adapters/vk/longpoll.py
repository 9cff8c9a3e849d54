"""Bots Long Poll with durable intake: a batch of events is acknowledged (the next a_check
asks with its `ts`) only after the handler has committed it.

VK keeps events addressed by `ts`, so asking again with the same `ts` after a crash or a
failing handler gets the same events again (at-least-once; intake deduplicates). Failures
never turn into a tight loop: every error and every `failed` answer after the first in a row
waits a capped, jittered, growing delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp

from .errors import VkApiError, VkNetworkError
from .transport import VkApi, backoff_delay

logger = logging.getLogger(__name__)

Event = dict[str, Any]
Handler = Callable[[list[Event]], Awaitable[None]]
Acknowledged = Callable[[str], Awaitable[None]]
Recover = Callable[[], Awaitable[list[Event]]]


class LongPollFailed(Exception):
    """The long-poll server answered something unusable (HTTP error, not JSON)."""


class VkLongPoll:
    """The Bots Long Poll loop of community `group_id`.

    Use either ``await poller.run(handler)`` (a handler that raises gets the same events
    again after a backoff) or ``async for batch in poller.batches()`` (the ts moves on when
    the loop body asks for the next batch; leaving the loop by an exception acknowledges
    nothing). `stop()` ends both promptly.

    Counters: `events` (events acknowledged), `reconnects` (errors and `failed` answers
    recovered from), `history_gaps` (`failed` 1/3 answers: VK says events may be lost),
    `handler_failures`.
    """

    def __init__(
        self,
        api: VkApi,
        group_id: int,
        *,
        wait: int = 25,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        timeout_slack: float = 10.0,
        ts: str | None = None,
        on_acknowledged: Acknowledged | None = None,
        recover: Recover | None = None,
    ) -> None:
        self._api = api
        self.group_id = group_id
        self.wait = wait
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.timeout_slack = timeout_slack  # a_check times out after wait + this
        self._server: str | None = None
        self._key: str | None = None
        # The next ts to ask with (acknowledges what came before). VK keeps no cursor for
        # us: pass the one saved by `on_acknowledged` to resume where the last run stopped.
        self.ts: str | None = ts
        self._on_acknowledged = on_acknowledged
        # After VK says events were lost (failed 1), `recover` reads them back from the
        # mailbox (messages.getHistory); its events go to the handler like any batch.
        self._recover = recover
        self._gap = False
        self._stopping = asyncio.Event()
        self._inflight: asyncio.Task[Any] | None = None
        self._failures = 0  # consecutive errors / failed answers
        self._delay = 0.0  # wait this long before the next a_check
        self.events = 0
        self.reconnects = 0
        self.history_gaps = 0
        self.handler_failures = 0

    def stop(self) -> None:
        """End `run`/`batches` promptly: the waiting a_check is cancelled; a running handler
        is left to finish (its batch is then acknowledged)."""
        self._stopping.set()
        if self._inflight is not None:
            self._inflight.cancel()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def wait_stopping(self) -> None:
        """Return once `stop()` was called (another process may poll: see bots/leading)."""
        await self._stopping.wait()

    async def run(self, handler: Handler) -> None:
        """Poll until `stop()`, handing every non-empty batch to `handler` before the next
        a_check acknowledges it."""
        handler_failures = 0
        while True:
            fetched = await self._next()
            if fetched is None:
                return
            events, next_ts = fetched
            try:
                await handler(events)
            except Exception:
                self.handler_failures += 1
                delay = backoff_delay(handler_failures, self.backoff_base, self.backoff_max)
                handler_failures += 1
                logger.exception(
                    "VK long poll handler failed on %d events (ts %s); asking again in %.2fs",
                    len(events), self.ts, delay,
                )
                await self._sleep(delay)
                continue
            handler_failures = 0
            self._acknowledge(events, next_ts)
            if self._on_acknowledged is not None:
                try:
                    await self._on_acknowledged(next_ts)
                except Exception:  # the events are handled; at worst they come again
                    logger.exception("VK long poll: saving ts %s failed", next_ts)

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Yield non-empty batches; each is acknowledged when the next one is asked for."""
        while True:
            fetched = await self._next()
            if fetched is None:
                return
            events, next_ts = fetched
            yield events
            self._acknowledge(events, next_ts)

    def _acknowledge(self, events: list[Event], next_ts: str) -> None:
        self.events += len(events)
        self.ts = next_ts

    async def _next(self) -> tuple[list[Event], str] | None:
        """The next non-empty batch and the ts that acknowledges it; None once stopping."""
        while not self._stopping.is_set():
            if self._delay:
                await self._sleep(self._delay)
                self._delay = 0.0
                if self._stopping.is_set():
                    return None
            if self._gap and self._recover is not None:
                recovered = await self._recovered()
                if recovered:
                    return recovered, str(self.ts)
                continue
            self._inflight = asyncio.create_task(self._check())
            try:
                answer = await self._inflight
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._stopping.is_set() and not (task and task.cancelling()):
                    return None
                raise
            except (VkApiError, VkNetworkError, LongPollFailed) as exc:
                self._strike(first_is_free=False)
                self.reconnects += 1
                logger.warning("VK long poll of group %s failed: %s; retrying in %.2fs",
                               self.group_id, exc, self._delay)
                continue
            finally:
                self._inflight = None
            if "failed" in answer:
                self._on_failed(answer)
                continue
            self._failures = 0
            updates = answer.get("updates") or []
            next_ts = str(answer.get("ts", self.ts))
            if updates:
                return list(updates), next_ts
            self.ts = next_ts
        return None

    async def _recovered(self) -> list[Event] | None:
        """The events `recover` found (None: it failed and is tried again after a delay)."""
        assert self._recover is not None
        try:
            events = await self._recover()
        except (VkApiError, VkNetworkError) as exc:
            self._strike(first_is_free=False)
            logger.warning("VK long poll of group %s: recovering lost events failed: %s; "
                           "retrying in %.2fs", self.group_id, exc, self._delay)
            return None
        self._gap = False
        logger.info("VK long poll of group %s: %d events recovered from the mailbox",
                    self.group_id, len(events))
        return events

    def _strike(self, *, first_is_free: bool) -> None:
        """One more failure in a row: set the delay before the next attempt."""
        self._failures += 1
        steps = self._failures - (2 if first_is_free else 1)
        self._delay = (
            backoff_delay(steps, self.backoff_base, self.backoff_max) if steps >= 0 else 0.0
        )

    def _on_failed(self, answer: dict[str, Any]) -> None:
        # A single `failed` answer is routine (keys expire); a repeat in a row backs off, so a
        # server that keeps failing never makes us hammer groups.getLongPollServer (error 29).
        code = answer.get("failed")
        self._strike(first_is_free=True)
        if code == 1 and "ts" in answer:
            self.history_gaps += 1
            logger.warning(
                "VK long poll history of group %s is out of date (ts %s -> %s): "
                "events in between may be lost", self.group_id, self.ts, answer["ts"],
            )
            self.ts = str(answer["ts"])
            self._gap = True
            return
        self.reconnects += 1
        self._server = self._key = None  # 2, 3 and anything unknown: a new key, same ts
        if code == 3 and self._recover is None:
            self.history_gaps += 1
            logger.warning(
                "VK long poll of group %s lost its key and history (failed 3): "
                "starting from a new ts, events may be lost", self.group_id,
            )
            self.ts = None
        elif code == 3:
            # VK says the history may be gone. Asking with the old ts under the new key
            # costs nothing: what is still kept comes, and if it is not, the answer is
            # failed 1 with a new ts, which starts a recovery from the mailbox.
            logger.warning("VK long poll of group %s lost its key (failed 3); asking from "
                           "ts %s again with a new key", self.group_id, self.ts)
        else:
            logger.info("VK long poll key of group %s expired (failed %s)", self.group_id, code)

    async def _check(self) -> dict[str, Any]:
        if self._server is None or self._key is None:
            await self._connect()
        assert self._server is not None and self._key is not None
        params = {"act": "a_check", "key": self._key, "ts": self.ts or "",
                  "wait": str(self.wait)}
        timeout = aiohttp.ClientTimeout(total=self.wait + self.timeout_slack)
        try:
            async with self._api.session.get(
                self._server, params=params, timeout=timeout
            ) as resp:
                if resp.status != 200:
                    raise LongPollFailed(f"a_check answered HTTP {resp.status}")
                answer = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            detail = str(exc) or f"no answer within {timeout.total}s"
            raise LongPollFailed(f"a_check: {type(exc).__name__}: {detail}") from exc
        if not isinstance(answer, dict):
            raise LongPollFailed("a_check answer is not a JSON object")
        return answer

    async def connect(self) -> None:
        """Get a server and key now (and the current ts when none was given): events from
        this moment on are then certain to be seen."""
        await self._connect()

    async def _connect(self) -> None:
        info = await self._api.call("groups.getLongPollServer", group_id=self.group_id)
        server = str(info["server"])
        if not server.startswith(("http://", "https://")):
            server = f"https://{server}"
        self._server, self._key = server, str(info["key"])
        if self.ts is None:
            self.ts = str(info["ts"])

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

"""`/healthz` (the process runs) and `/readyz` (it can do its work) on the `http:` server.

Ready means: the database answers; intake is alive (the poller had a getUpdates answer
within two poll timeouts, or Telegram has our webhook); and the outbox is not stuck (no row due
longer than `OUTBOX_STUCK` ago still waits). A load balancer sends webhooks only to ready
processes; an orchestrator restarts a process whose `/healthz` stops answering.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from adapters.telegram.polling import DurablePoller
from adapters.telegram.webhook import TelegramWebhook
from core.clock import Clock
from storage.observe import ObservationStore

logger = logging.getLogger(__name__)
OUTBOX_STUCK = timedelta(minutes=5)
DB_TIMEOUT = 2.0
TELEGRAM_TIMEOUT = 2.0
WEBHOOK_CHECK_EVERY = 5.0  # seconds between getWebhookInfo calls of the readiness probe


@dataclass
class Intake:
    """Where updates come from in this process: a poller, or a webhook."""

    poller: DurablePoller | None = None
    webhook: TelegramWebhook | None = None
    # Telegram's answer to getWebhookInfo, kept WEBHOOK_CHECK_EVERY seconds: probes come
    # every few seconds from each process and need not each cost a call.
    _registered: tuple[float, str] | None = None

    async def problem(self) -> str | None:
        if self.webhook is not None:
            return await self._webhook_problem(self.webhook)
        poller = self.poller
        if poller is None or poller.started is None:
            return None  # another process polls (or none is configured)
        since = poller.last_answer or poller.started
        silent = time.monotonic() - since
        if silent > 2 * poller.timeout:
            return f"getUpdates has not answered for {silent:.0f}s"
        return None

    async def _webhook_problem(self, webhook: TelegramWebhook) -> str | None:
        """Not set yet (start is still trying), or no longer ours at Telegram (deleted, or
        replaced by another deployment with the same token): no update reaches us."""
        if not webhook.is_set:
            return "the webhook is not set"
        now = time.monotonic()
        if self._registered is None or now - self._registered[0] > WEBHOOK_CHECK_EVERY:
            try:
                url = await asyncio.wait_for(webhook.registered_url(), TELEGRAM_TIMEOUT)
            except Exception as exc:  # Telegram unreachable: it can't push to anyone either
                logger.warning("readiness: getWebhookInfo failed: %s", exc)
                url = self._registered[1] if self._registered else webhook.url
            self._registered = (now, url)
        url = self._registered[1]
        if url == webhook.url:
            return None
        if not url:
            return f"the webhook is not set at Telegram (expected {webhook.url})"
        return f"Telegram's webhook is {url}, not {webhook.url}"


class HealthPart:
    name = "health"

    def __init__(self, store: ObservationStore, clock: Clock, intake: Intake,
                 outbox_stuck: timedelta = OUTBOX_STUCK) -> None:
        self._store = store
        self._clock = clock
        self._intake = intake
        self._outbox_stuck = outbox_stuck

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(self, request: web.Request) -> web.Response:
        problems = await self.problems()
        body = {"ready": not problems, "problems": problems}
        return web.Response(status=503 if problems else 200, text=json.dumps(body),
                            content_type="application/json")

    async def problems(self) -> list[str]:
        try:
            await asyncio.wait_for(self._store.ping(), DB_TIMEOUT)
        except Exception as exc:  # any failure to answer is the same: not ready
            return [f"database: {type(exc).__name__}: {exc}"[:300]]
        found = []
        intake = await self._intake.problem()
        if intake is not None:
            found.append(f"intake: {intake}")
        overdue = await self._store.overdue_pending(self._clock.now() - self._outbox_stuck)
        if overdue:
            found.append(f"outbox: {overdue} deliveries overdue by more than "
                         f"{int(self._outbox_stuck.total_seconds())}s")
        return found

"""Wiring of the MAX channel (when `max` is configured and enabled)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp

from adapters.max.channel import MaxChannel, MaxFiles
from adapters.max.customer import UPDATE_TYPES, MaxIntake
from adapters.max.errors import MaxApiError, MaxNetworkError
from adapters.max.polling import MaxPolling
from adapters.max.startup import MaxSetupError, check_bot
from adapters.max.transport import MaxApi, bot_rate_key, ssl_context
from adapters.max.webhook import MaxWebhook
from bots.config_max import MaxConfig
from bots.http import HttpServer
from bots.startup import StartupRetry
from core.clock import Clock
from core.delivery.ratelimit import SlidingWindowLimiter
from core.files import Files
from core.intake.service import IntakeService
from core.presses import Presses
from storage.store import TortoiseStore

logger = logging.getLogger(__name__)


@dataclass
class MaxParts:
    """The MAX side of a running App."""

    config: MaxConfig
    session: aiohttp.ClientSession
    api: MaxApi
    channel: MaxChannel
    bot_id: int
    polling: MaxPolling | None = None
    handler: MaxIntake | None = None
    webhook: MaxWebhook | None = None
    store: TortoiseStore | None = None  # where the polling marker is kept
    marker_name: str = ""

    @classmethod
    async def connect(cls, cfg: MaxConfig, limiter: SlidingWindowLimiter, files: Files,
                      retry: StartupRetry) -> MaxParts:
        """Build the MAX side and check the token (`GET /me`: a bad token stops the start
        naming max.token); waits, as `retry` says, while MAX can't be reached."""
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl_context(cfg.ca_file)))
        api = MaxApi(session, cfg.secret, cfg.api_server, limiter=limiter,
                     rate=bot_rate_key(cfg.secret, cfg.rate.count,
                                       cfg.rate.per.total_seconds()),
                     timeout=cfg.request_timeout.total_seconds())
        try:
            me = await retry.until_reachable(lambda: check_bot(api))
        except BaseException:  # a setup error, or a stop while waiting for MAX
            await session.close()
            raise
        logger.info("MAX bot %s connected (%s)", me.get("user_id"), cfg.mode)
        files.register(MaxFiles(api))
        first = cfg.attachment_retry.total_seconds()
        channel = MaxChannel(api, files, [first * 2**n for n in range(4)])
        return cls(cfg, session, api, channel, int(me["user_id"]))

    async def prepare(self, store: TortoiseStore, intake: IntakeService, clock: Clock,
                      presses: Presses | None, http: HttpServer | None) -> None:
        """Polling from the marker the last run stored, or the webhook route on `http`."""
        handler = MaxIntake(intake, self.api, presses)
        self.handler = handler
        if self.config.mode == "webhook":
            assert http is not None and self.config.webhook.secret is not None
            self.webhook = MaxWebhook(self.config.webhook.path,
                                      self.config.webhook.secret.get_secret_value(),
                                      handler.handle)
            http.add(self.webhook)
            return
        name = f"max:{self.bot_id}:marker"
        self.store, self.marker_name = store, name

        async def save(marker: int) -> None:  # one statement: no transaction around it
            await store.save_cursor(name, str(marker), clock.now())

        saved = await store.load_cursor(name)
        self.polling = MaxPolling(self.api, marker=int(saved) if saved else None, save=save,
                                  timeout=int(self.config.poll_timeout.total_seconds()))
        try:
            await self.polling.prime()
        except (MaxApiError, MaxNetworkError) as exc:  # polling tries again from no marker
            logger.warning("MAX: getting a first marker failed: %s", exc)

    async def subscribe(self, http: HttpServer | None) -> None:
        """Webhook mode: point MAX at our route (the server listens by now). Polling mode: a
        webhook left from before would silence polling, so it is removed. Raises
        `MaxSetupError` when MAX refuses."""
        try:
            await self._subscribe(http)
        except (MaxApiError, MaxNetworkError) as exc:
            raise MaxSetupError(f"max.mode: setting the {self.config.mode} mode up failed: "
                                f"{exc}") from exc

    async def _subscribe(self, http: HttpServer | None) -> None:
        answer = await self.api.request("GET", "/subscriptions")
        hooks = [h for h in answer.get("subscriptions") or [] if isinstance(h, dict)]
        if self.webhook is None:
            for hook in hooks:
                logger.warning("MAX: removing the webhook %s (max.mode is polling)",
                               hook.get("url"))
                await self.api.request("DELETE", "/subscriptions", {"url": hook.get("url")})
            return
        assert http is not None and self.config.webhook.secret is not None
        if http.config.public_url:
            url = http.config.url_for(self.webhook.path)
        else:
            host, _ = http.config.host_port
            url = f"http://{host}:{http.port}{self.webhook.path}"
        if not url.startswith("https://"):
            logger.warning("MAX pushes only to HTTPS on port 443; %s is for tests and "
                           "emulators (set http.public_url)", url)
        await self.api.request("POST", "/subscriptions", body={
            "url": url, "update_types": list(UPDATE_TYPES),
            "secret": self.config.webhook.secret.get_secret_value()})
        logger.info("MAX webhook set to %s", url)

    def run(self) -> asyncio.Task[None] | None:
        if self.polling is None or self.handler is None:
            return None
        return asyncio.create_task(self.polling.run(self.handler.handle), name="max-polling")

    async def resume(self) -> None:
        """Several processes: the one taking over polling goes on from the marker the last
        poller saved, not from the one read at this process's start."""
        if self.polling is None or self.store is None:
            return
        saved = await self.store.load_cursor(self.marker_name)
        if saved:
            self.polling.resume_from(int(saved))

    def stop(self) -> None:
        if self.polling is not None:
            self.polling.stop()

    async def close(self) -> None:
        await self.session.close()

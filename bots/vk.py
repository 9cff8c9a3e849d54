"""Wiring of the VK community channel (when `vk` is configured and enabled): events come by
Bots Long Poll (`vk.mode: long_poll`) or are POSTed by VK to the `http:` server
(`vk.mode: callback`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from adapters.vk.callback import CatchUp, VkCallback
from adapters.vk.channel import VkChannel, VkFiles
from adapters.vk.customer import POISON_LIMIT, VkIntake, VkProfiles
from adapters.vk.longpoll import VkLongPoll
from adapters.vk.startup import check_community, check_confirmation, connect_longpoll
from adapters.vk.transport import VkApi, token_rate_key
from bots.config_models import VkConfig
from bots.startup import StartupRetry
from core.clock import Clock
from core.delivery.ratelimit import SlidingWindowLimiter
from core.files import Files
from core.intake.service import IntakeService
from core.presses import Presses
from storage.store import TortoiseStore

logger = logging.getLogger(__name__)


@dataclass
class VkParts:
    """The VK side of a running App."""

    config: VkConfig
    session: aiohttp.ClientSession
    api: VkApi
    channel: VkChannel
    profiles: VkProfiles
    longpoll: VkLongPoll | None = None
    handler: VkIntake | None = None
    callback: VkCallback | None = None  # the route, in callback mode
    catch_up: CatchUp | None = None  # and what reads back missed messages

    @classmethod
    async def connect(cls, cfg: VkConfig, limiter: SlidingWindowLimiter, files: Files,
                      retry: StartupRetry) -> VkParts:
        """Build the VK side and check the token and community (a bad token must stop the
        start with a clear error, not fail every delivery later); waits, as `retry` says,
        while the VK API can't be reached."""
        session = aiohttp.ClientSession()
        rate = cfg.rate
        api = VkApi(
            session, cfg.secret, cfg.api_server, limiter=limiter,
            rate=token_rate_key(cfg.community, rate.count, rate.per.total_seconds()),
            timeout=cfg.request_timeout.total_seconds(),
        )
        try:
            name = await retry.until_reachable(lambda: check_community(api, cfg.community))
        except BaseException:  # a setup error, or a stop while waiting for VK
            await session.close()
            raise
        logger.info("VK community %s (%s) connected", cfg.community, name)
        files.register(VkFiles(api))
        return cls(cfg, session, api, VkChannel(api, files),
                   VkProfiles(api, cfg.profile_ttl.total_seconds()))

    async def prepare(self, store: TortoiseStore, intake: IntakeService, clock: Clock,
                      retry: StartupRetry, presses: Presses | None = None) -> None:
        """Set the long poll up where the last run acknowledged, and connect it (so events
        from now on are certain to be seen); in callback mode, make the route instead
        (`bots/assembly.py` mounts `callback` on the HTTP server)."""
        group = self.config.community
        ts_name, mid_name = f"vk:{group}:ts", f"vk:{group}:message"
        saved_mid = await store.load_cursor(mid_name)
        handler = VkIntake(group, intake, self.profiles, self.api,
                           int(saved_mid) if saved_mid else None, ours=self.channel.sent_by_us,
                           presses=presses,
                           poison_limit=None if self.config.mode == "callback" else POISON_LIMIT)
        if self.config.mode == "callback":
            self.handler = handler
            self.callback = self._callback_route(handler)

            async def save_message(message_id: int) -> None:
                async with store.transaction():
                    await store.save_cursor(mid_name, str(message_id), clock.now())

            self.catch_up = CatchUp(handler, save_message)
            await self._check_confirmation(retry)
            return

        async def save(ts: str) -> None:
            async with store.transaction():
                await store.save_cursor(ts_name, ts, clock.now())
                if handler.last_message_id is not None:
                    await store.save_cursor(mid_name, str(handler.last_message_id),
                                            clock.now())

        self.longpoll = VkLongPoll(
            self.api, group, wait=int(self.config.poll_wait.total_seconds()),
            ts=await store.load_cursor(ts_name), on_acknowledged=save,
            recover=handler.missed_events,
        )
        longpoll = self.longpoll
        await retry.until_reachable(lambda: connect_longpoll(self.api, longpoll))
        self.handler = handler

    def _callback_route(self, handler: VkIntake) -> VkCallback:
        cb = self.config.callback
        assert cb is not None  # the config requires it in callback mode
        logger.info("VK community %s: events by Callback API at %s", self.config.community,
                    cb.path)

        async def handle(events: list[dict[str, Any]]) -> None:
            # Looked up per call: metrics wrap `handler.handle` after this
            # (bots/observability.py).
            await handler.handle(events)

        return VkCallback(cb.path, self.config.community, cb.secret.get_secret_value(),
                          cb.confirmation.get_secret_value(), handle)

    async def _check_confirmation(self, retry: StartupRetry) -> None:
        cb, group = self.config.callback, self.config.community
        assert cb is not None
        code = cb.confirmation.get_secret_value()
        checked = await retry.until_reachable(lambda: check_confirmation(self.api, group, code))
        if not checked:
            logger.info("VK community %s: the token may not read the confirmation string; "
                        "vk.callback.confirmation is not checked", group)

    def run(self) -> asyncio.Task[None]:
        """The long poll's task; in callback mode (VK POSTs the events) the one that catches
        up on what came while away and keeps the newest message id."""
        if self.catch_up is not None:
            return asyncio.create_task(self.catch_up.run(), name="vk-callback")
        assert self.longpoll is not None and self.handler is not None
        return asyncio.create_task(self.longpoll.run(self.handler.handle), name="vk-polling")

    def stop(self) -> None:
        if self.longpoll is not None:
            self.longpoll.stop()

    async def close(self) -> None:
        await self.session.close()



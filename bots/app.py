"""The composition root: config → database → adapters → outbox → polling; stop in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from adapters.telegram.customer import TelegramChannel, customer_router
from adapters.telegram.desk import TelegramDesk, desk_router
from adapters.telegram.files import TelegramFiles
from adapters.telegram.polling import DurablePoller
from adapters.telegram.responses import pin_response_models
from adapters.telegram.startup import check_desk
from adapters.vk.startup import VkSetupError
from bots.config import Config
from bots.config_service import sla_policy
from bots.sla_jobs import SlaJobs
from bots.vk import VkParts
from core.clock import Clock, SystemClock
from core.controls import DeskControls
from core.files import Files
from core.intake import IntakeService
from core.orphans import OrphanTopics
from core.outbox import Outbox, OutboxSettings
from core.ports import ChannelPort, RateKey
from core.ratelimit import SlidingWindowLimiter
from core.relay import Relayer
from core.sla_clock import SlaClock
from core.sweep import SlaSweeper
from core.titles import TitleKeeper
from storage.database import close_database, open_database, pending_migrations
from storage.sla import TortoiseSlaStore
from storage.store import TortoiseStore

logger = logging.getLogger(__name__)


class StartupError(Exception):
    """relaydesk can't start with this configuration; the message names the fix."""


@dataclass
class Services:
    """What a running App is made of (tests and the demo look inside)."""

    bot: Bot
    store: TortoiseStore
    intake: IntakeService
    outbox: Outbox
    poller: DurablePoller
    controls: DeskControls
    sla_jobs: SlaJobs | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    vk: VkParts | None = None


def _limit(key: str, limit: object) -> RateKey:
    count = getattr(limit, "count")  # noqa: B009 - RateLimit models, kept loosely coupled
    per = getattr(limit, "per")  # noqa: B009
    return RateKey(key, int(count), per.total_seconds())


class App:
    def __init__(self, config: Config, clock: Clock | None = None, *,
                 migrate: bool | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        # SQLite is the embedded default: migrate by itself. PostgreSQL is shared
        # infrastructure: migrations are an explicit `relaydesk migrate` step.
        self._migrate = config.storage.kind == "sqlite" if migrate is None else migrate
        self.services: Services | None = None
        self._db_open = False
        self._db: object = None

    async def start(self) -> Services:
        cfg = self.config
        url = cfg.storage.tortoise_url
        if not self._migrate:
            pending = await pending_migrations(url)
            if pending:
                raise StartupError(
                    f"storage.url: the database needs migrations {', '.join(pending)}; run "
                    "`relaydesk migrate -c CONFIG` first."
                )
        self._db = await open_database(url, apply_migrations=self._migrate)
        self._db_open = True
        tg = cfg.telegram
        pin_response_models()
        session = AiohttpSession(
            api=TelegramAPIServer.from_base(tg.api_server),
            timeout=tg.request_timeout.total_seconds(),
        )
        bot = Bot(tg.token.get_secret_value(), session=session)
        try:
            username = await check_desk(bot, cfg.operators.chat_id)
        except Exception:
            await bot.session.close()
            raise
        store = TortoiseStore()
        limiter = SlidingWindowLimiter()
        files = Files()
        files.register(TelegramFiles(bot))
        bot_limit = _limit("tg:bot", tg.limits.bot)
        desk = TelegramDesk(bot, cfg.operators.chat_id,
                            _limit(f"tg:chat:{cfg.operators.chat_id}", tg.limits.group), bot_limit,
                            files)
        channel = TelegramChannel(bot, _limit("tg:chat:*", tg.limits.private_chat), bot_limit)
        channels: dict[str, ChannelPort] = {channel.name: channel}
        vk = None
        if cfg.vk is not None and cfg.vk.enabled:
            try:
                vk = await VkParts.connect(cfg.vk, limiter, files)
            except VkSetupError as exc:
                await bot.session.close()
                raise StartupError(str(exc)) from exc
            except Exception:
                await bot.session.close()
                raise
            channels[vk.channel.name] = vk.channel
        relayer = Relayer(store, self.clock, desk, channels, limiter)
        ob = cfg.outbox
        outbox = Outbox(
            store, self.clock, relayer, ["desk", *channels],
            OutboxSettings(
                max_attempts=ob.max_attempts, workers=ob.workers,
                backoff_base=ob.backoff_base.total_seconds(),
                backoff_max=ob.backoff_max.total_seconds(),
                lease=ob.lease,
                exclusive=cfg.storage.kind == "sqlite",
            ),
            desk.chat_id,
        )
        sla_store = TortoiseSlaStore()
        policy = sla_policy(cfg.service, cfg.operators.admins) if cfg.service else None
        intake = IntakeService(
            store, self.clock, desk_platform=desk.platform, desk_chat_id=desk.chat_id,
            album_wait=ob.album_wait, wake=outbox.wake, stored=relayer.remember,
            sla=SlaClock(sla_store, policy) if policy else None, handoff=outbox,
        )
        controls = DeskControls(store, sla_store, self.clock, policy, desk.chat_id, outbox.wake)
        jobs = None
        if cfg.service is not None and policy is not None:
            sweeper = SlaSweeper(store, sla_store, self.clock, policy, desk.chat_id,
                                 outbox.wake)
            titles = TitleKeeper(sla_store, desk, relayer.limiter, self.clock)
            jobs = SlaJobs(cfg.service, sweeper, controls, titles)
        if vk is not None:
            try:
                await vk.prepare(store, intake, self.clock)
            except VkSetupError as exc:
                await bot.session.close()
                await vk.close()
                raise StartupError(str(exc)) from exc
        dp = Dispatcher()
        dp["intake"] = intake
        dp["controls"] = controls
        dp["orphans"] = OrphanTopics(store, self.clock, desk.chat_id, outbox.wake)
        dp.include_router(desk_router(cfg.operators.chat_id))
        dp.include_router(customer_router())
        poller = DurablePoller(bot, dp, timeout=int(tg.poll_timeout.total_seconds()))
        services = Services(bot, store, intake, outbox, poller, controls, jobs, vk=vk)
        services.tasks.append(asyncio.create_task(outbox.run(), name="outbox"))
        if jobs is not None:
            jobs.start()
        services.tasks.append(asyncio.create_task(poller.run(), name="polling"))
        if vk is not None:
            services.tasks.append(vk.run())
        self.services = services
        logger.info("relaydesk started as @%s; operator group %s; storage %s", username,
                    cfg.operators.chat_id, cfg.storage.kind)
        return services

    async def run_until(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set or a background task dies."""
        services = self.services or await self.start()
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *services.tasks],
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        for task in done:
            if task is not waiter and task.exception() is not None:
                logger.error("%s stopped unexpectedly", task.get_name(),
                             exc_info=task.exception())

    async def stop(self) -> None:
        """Stop taking updates, let in-flight deliveries finish or stay queued, close all."""
        services, self.services = self.services, None
        if services is not None:
            services.poller.stop()
            if services.vk is not None:
                services.vk.stop()
            polling = [t for t in services.tasks if t.get_name() in ("polling", "vk-polling")]
            # A batch being handled finishes (its updates commit) before anything else stops.
            await asyncio.wait(polling, timeout=15)
            if services.sla_jobs is not None:
                services.sla_jobs.stop()
            await services.outbox.stop()
            for task in services.tasks:
                if not task.done():
                    task.cancel()
            for task in services.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await services.bot.session.close()
            if services.vk is not None:
                await services.vk.close()
        if self._db_open:
            self._db_open = False
            await close_database(self._db)

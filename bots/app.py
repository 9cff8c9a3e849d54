"""The composition root: config → database → adapters → outbox → polling; stop in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer

from adapters.telegram.customer import TelegramChannel, customer_router
from adapters.telegram.desk import TelegramDesk
from adapters.telegram.desk_updates import desk_router
from adapters.telegram.files import TelegramFiles
from adapters.telegram.polling import DurablePoller
from adapters.telegram.responses import pin_response_models
from adapters.telegram.session import BotApiSession
from adapters.telegram.startup import check_desk, publish_commands
from adapters.vk.startup import VkSetupError
from bots.config import Config
from bots.config_service import sla_policy
from bots.http import HttpServer
from bots.selfservice import SelfServiceParts
from bots.sla_jobs import SlaJobs
from bots.startup import StartupRetry
from bots.surge import SurgeParts
from bots.vk import VkParts
from core.clock import Clock, SystemClock
from core.commands import Commands
from core.conversations import commands as conversation_commands
from core.conversations.linking import Linking
from core.conversations.service import Conversations
from core.delivery.orphans import OrphanTopics
from core.delivery.outbox import Outbox, OutboxSettings
from core.delivery.queue import Queue
from core.delivery.ratelimit import SlidingWindowLimiter
from core.delivery.relay import Relayer
from core.files import Files
from core.intake import commands as intake_commands
from core.intake.service import DeskRef, IntakeService
from core.lifecycle import Lifecycle
from core.ports import ChannelPort, RateKey
from core.presses import Presses
from core.sla import commands as sla_commands
from core.sla.clock import SlaClock
from core.sla.controls import SlaControls
from core.sla.policy import SlaPolicy
from core.sla.sweep import SlaSweeper
from core.sla.titles import TitleKeeper
from core.unit import Transactions
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
    controls: SlaControls
    commands: Commands
    conversations: Conversations
    presses: Presses
    transactions: Transactions
    queue: Queue
    lifecycle: Lifecycle
    sla_jobs: SlaJobs | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    vk: VkParts | None = None
    selfservice: SelfServiceParts | None = None
    http: HttpServer | None = None
    surge: SurgeParts | None = None


def _limit(key: str, limit: object) -> RateKey:
    count = getattr(limit, "count")  # noqa: B009 - RateLimit models, kept loosely coupled
    per = getattr(limit, "per")  # noqa: B009
    return RateKey(key, int(count), per.total_seconds())


class App:
    def __init__(self, config: Config, clock: Clock | None = None, *,
                 migrate: bool | None = None, startup_retry: StartupRetry | None = None
                 ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        # How long start waits between tries of an API server that can't be reached.
        self.startup_retry = startup_retry or StartupRetry()
        # SQLite is the embedded default: migrate by itself. PostgreSQL is shared
        # infrastructure: migrations are an explicit `relaydesk migrate` step.
        self._migrate = config.storage.kind == "sqlite" if migrate is None else migrate
        self.services: Services | None = None
        self._db_open = False
        self._db: object = None

    async def start(self) -> Services:
        """Open the database, check the platforms, start intake and delivery.

        While an API server can't be reached it logs one line per try and tries again
        (`startup_retry`); cancelling it then gives up cleanly, with what it opened closed
        (the database by `stop()`).
        """
        cfg = self.config
        await self._open_database()
        async with contextlib.AsyncExitStack() as opened:
            bot = self._bot()
            opened.push_async_callback(bot.session.close)
            username = await self.startup_retry.until_reachable(
                lambda: check_desk(bot, cfg.operators.chat_id))
            services = await self._build(bot, opened)
            await self._listen(services.http, opened)
            opened.pop_all()  # from here on they belong to `services` and close in stop()
        self._run_services(services)
        logger.info("relaydesk started as @%s; operator group %s; storage %s", username,
                    cfg.operators.chat_id, cfg.storage.kind)
        return services

    @staticmethod
    async def _listen(http: HttpServer | None, opened: contextlib.AsyncExitStack) -> None:
        if http is None:
            return
        try:
            await http.start()
        except OSError as exc:
            raise StartupError(f"http.listen: cannot listen on {http.config.listen}: "
                               f"{exc.strerror or exc}; choose a free host:port") from None
        opened.push_async_callback(http.stop)

    async def start_unless_stopped(self, stop: asyncio.Event) -> Services | None:
        """`start()`, given up when `stop` is set first (a SIGTERM while a server is still
        away): None then, and `stop()` closes what was opened."""
        starting = asyncio.create_task(self.start(), name="start")
        stopping = asyncio.create_task(stop.wait(), name="stop-requested")
        try:
            await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not starting.done():
                starting.cancel()
                await asyncio.wait([starting])
        return None if starting.cancelled() else starting.result()

    async def _open_database(self) -> None:
        url = self.config.storage.tortoise_url
        if not self._migrate:
            pending = await pending_migrations(url)
            if pending:
                raise StartupError(
                    f"storage.url: the database needs migrations {', '.join(pending)}; run "
                    "`relaydesk migrate -c CONFIG` first."
                )
        self._db = await open_database(url, apply_migrations=self._migrate)
        self._db_open = True

    def _bot(self) -> Bot:
        tg = self.config.telegram
        pin_response_models()
        session = BotApiSession(
            api=TelegramAPIServer.from_base(tg.api_server),
            timeout=tg.request_timeout.total_seconds(),
        )
        return Bot(tg.token.get_secret_value(), session=session)

    async def _build(self, bot: Bot, opened: contextlib.AsyncExitStack) -> Services:
        cfg = self.config
        store = TortoiseStore()
        limiter = SlidingWindowLimiter()
        files = Files()
        files.register(TelegramFiles(bot))
        desk, channels = self._platforms(bot, files)
        vk = await self._connect_vk(limiter, files, opened)
        if vk is not None:
            channels[vk.channel.name] = vk.channel
        transactions = Transactions(store, self.clock)
        queue = Queue(store, desk.chat_id)
        relayer = Relayer(store, self.clock, desk, channels, limiter)
        outbox = self._outbox(store, transactions, queue, relayer, list(channels))
        surge = SurgeParts.build(cfg, store, desk, limiter, self.clock, relayer, transactions,
                                 queue)
        policy = sla_policy(cfg.service, cfg.operators.admins) if cfg.service else None
        sla_store = TortoiseSlaStore()
        lifecycle = Lifecycle([SlaClock(sla_store, policy, queue)] if policy else [])
        selfservice = SelfServiceParts.build(cfg, store, queue, transactions)
        if selfservice is not None:
            lifecycle.add(selfservice.service)
        intake = IntakeService(store, transactions, queue, lifecycle,
                               DeskRef(desk.platform, desk.chat_id), cfg.outbox.album_wait)
        conversations = Conversations(store, transactions, queue, lifecycle)
        sections = [selfservice.report] if selfservice else []
        controls = SlaControls(store, sla_store, transactions, queue, policy,
                               [*sections, *(surge.reports() if surge else [])])
        commands = self._commands(intake, conversations,
                                  Linking(store, transactions, queue, conversations, lifecycle),
                                  controls)
        presses = Presses()  # capabilities with buttons under bot messages register here
        if selfservice is not None:
            selfservice.connect(intake.customers.hand_over, conversations.close,
                                intake.operators.relay_operator_to_customer, commands,
                                presses, store, queue, transactions)
        desk.set_buttons([(c.button.label, c.name) for c in commands.buttons() if c.button])
        jobs = self._sla_jobs(policy, sla_store, transactions, queue, controls, desk, limiter)
        if vk is not None:
            try:
                await vk.prepare(store, intake, self.clock, self.startup_retry, presses)
            except VkSetupError as exc:
                raise StartupError(str(exc)) from exc
        await self.startup_retry.until_reachable(lambda: publish_commands(
            bot, cfg.operators.chat_id, [(c.name, c.summary) for c in commands.menu()]))
        # Parts of the one HTTP server (widget, webhooks, metrics) are added by their owners.
        http = HttpServer(cfg.http) if cfg.http is not None else None
        dp = Dispatcher()
        dp["intake"] = intake
        dp["commands"] = commands
        dp["presses"] = presses
        dp["orphans"] = OrphanTopics(store, transactions, queue)
        dp.include_router(desk_router(cfg.operators.chat_id))
        dp.include_router(customer_router())
        poller = DurablePoller(bot, dp, timeout=int(cfg.telegram.poll_timeout.total_seconds()))
        return Services(bot, store, intake, outbox, poller, controls, commands, conversations,
                        presses, transactions, queue, lifecycle, jobs, vk=vk,
                        selfservice=selfservice, http=http, surge=surge)

    def _platforms(self, bot: Bot, files: Files) -> tuple[TelegramDesk, dict[str, ChannelPort]]:
        cfg, tg = self.config, self.config.telegram
        bot_limit = _limit("tg:bot", tg.limits.bot)
        desk = TelegramDesk(bot, cfg.operators.chat_id,
                            _limit(f"tg:chat:{cfg.operators.chat_id}", tg.limits.group), bot_limit,
                            files)
        channel = TelegramChannel(bot, _limit("tg:chat:*", tg.limits.private_chat), bot_limit)
        return desk, {channel.name: channel}

    def _commands(self, intake: IntakeService, conversations: Conversations, linking: Linking,
                  controls: SlaControls) -> Commands:
        """Every capability registers its operator commands (and buttons) here."""
        commands = Commands(admins=[str(a) for a in self.config.operators.admins])
        intake_commands.register(commands, intake.operators)
        conversation_commands.register(commands, conversations, linking)
        sla_commands.register(commands, controls)
        return commands

    def _sla_jobs(self, policy: SlaPolicy | None, sla_store: TortoiseSlaStore,
                  transactions: Transactions, queue: Queue, controls: SlaControls,
                  desk: TelegramDesk, limiter: SlidingWindowLimiter) -> SlaJobs | None:
        service = self.config.service
        if service is None or policy is None:
            return None
        sweeper = SlaSweeper(sla_store, transactions, queue, policy)
        titles = TitleKeeper(sla_store, desk, limiter, self.clock)
        return SlaJobs(service, sweeper, controls, titles)

    async def _connect_vk(self, limiter: SlidingWindowLimiter, files: Files,
                          opened: contextlib.AsyncExitStack) -> VkParts | None:
        cfg = self.config.vk
        if cfg is None or not cfg.enabled:
            return None
        try:
            vk = await VkParts.connect(cfg, limiter, files, self.startup_retry)
        except VkSetupError as exc:
            raise StartupError(str(exc)) from exc
        opened.push_async_callback(vk.close)
        return vk

    def _outbox(self, store: TortoiseStore, transactions: Transactions, queue: Queue,
                relayer: Relayer, channels: list[str]) -> Outbox:
        ob = self.config.outbox
        return Outbox(
            store, transactions, queue, relayer, ["desk", *channels],
            OutboxSettings(
                max_attempts=ob.max_attempts, workers=ob.workers,
                backoff_base=ob.backoff_base.total_seconds(),
                backoff_max=ob.backoff_max.total_seconds(),
                lease=ob.lease,
                exclusive=self.config.storage.kind == "sqlite",
            ),
        )

    def _run_services(self, services: Services) -> None:
        services.tasks.append(asyncio.create_task(services.outbox.run(), name="outbox"))
        if services.sla_jobs is not None:
            services.sla_jobs.start()
        services.tasks.append(asyncio.create_task(services.poller.run(), name="polling"))
        if services.surge is not None:
            services.tasks += services.surge.run()
        if services.vk is not None:
            services.tasks.append(services.vk.run())
        self.services = services

    async def run_until(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set or a background task dies."""
        services = self.services or await self.start_unless_stopped(stop)
        if services is None:
            return
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *services.tasks],
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        for task in done:
            if task is not waiter and task.exception() is not None:
                logger.error("%s stopped unexpectedly", task.get_name(),
                             exc_info=task.exception())

    def _request_timeout(self) -> float:
        timeouts = [self.config.telegram.request_timeout.total_seconds()]
        if self.config.vk is not None and self.config.vk.enabled:
            timeouts.append(self.config.vk.request_timeout.total_seconds())
        return max(timeouts)

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
            if services.http is not None:
                await services.http.stop()
            if services.sla_jobs is not None:
                services.sla_jobs.stop()
            # Sends waiting for a rate-limit window go back to the queue at once; calls on
            # the wire get at most the request timeout.
            await services.outbox.stop(grace=self._request_timeout())
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

"""The composition root: config → database → adapters → outbox → polling; stop in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer

from adapters.max.startup import MaxSetupError
from adapters.telegram.customer import TelegramChannel, customer_router
from adapters.telegram.desk import TelegramDesk
from adapters.telegram.desk_updates import desk_router
from adapters.telegram.files import TelegramFiles
from adapters.telegram.polling import DurablePoller
from adapters.telegram.responses import pin_response_models
from adapters.telegram.session import BotApiSession
from adapters.telegram.startup import check_desk, publish_commands
from adapters.telegram.webhook import TelegramWebhook
from adapters.vk.startup import VkSetupError
from adapters.web.channel import WebDetails
from bots.config import Config
from bots.config_service import sla_policy
from bots.departments import DepartmentParts
from bots.feedback import FeedbackParts
from bots.health import Intake
from bots.http import HttpPart, HttpServer
from bots.leading import JOBS, POLLING, VK_POLLING, poll_while_leading, vk_while_leading
from bots.max import MaxParts
from bots.metrics import Metrics
from bots.observability import observe
from bots.reload import Reloader
from bots.selfservice import SelfServiceParts
from bots.sla_jobs import SlaJobs
from bots.startup import StartupRetry
from bots.surge import SurgeParts
from bots.vk import VkParts
from bots.web import WebParts
from bots.webhook import telegram_webhook
from core.clock import Clock, SystemClock
from core.commands import Commands
from core.conversations import commands as conversation_commands
from core.conversations.linking import Linking
from core.conversations.service import Conversations
from core.delivery.desks import Desks
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
from storage.leadership import Leadership
from storage.shared_limits import SharedLimiter
from storage.sla import TortoiseSlaStore
from storage.sqlite_lock import DatabaseInUse, SqliteProcessLock
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
    feedback: FeedbackParts | None = None
    max: MaxParts | None = None
    departments: DepartmentParts | None = None
    web: WebParts | None = None
    webhook: TelegramWebhook | None = None  # telegram.mode: webhook (else `poller` runs)
    metrics: Metrics | None = None  # with an `http:` section: /metrics, /healthz, /readyz
    leadership: Leadership | None = None  # PostgreSQL: one poller, one job runner
    username: str = ""  # the bot's @username
    surge: SurgeParts | None = None


def _limit(key: str, limit: object) -> RateKey:
    count = getattr(limit, "count")  # noqa: B009 - RateLimit models, kept loosely coupled
    per = getattr(limit, "per")  # noqa: B009
    return RateKey(key, int(count), per.total_seconds())


class App:
    def __init__(self, config: Config, clock: Clock | None = None, *,
                 migrate: bool | None = None, startup_retry: StartupRetry | None = None,
                 http_parts: list[HttpPart] | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        # How long start waits between tries of an API server that can't be reached.
        self.startup_retry = startup_retry or StartupRetry()
        self._http_parts = http_parts or []  # more parts for the HTTP server (the sandbox's)
        # SQLite is the embedded default: migrate by itself. PostgreSQL is shared
        # infrastructure: migrations are an explicit `relaydesk migrate` step.
        self._migrate = config.storage.kind == "sqlite" if migrate is None else migrate
        self.services: Services | None = None
        self._db_open = False
        self._db: object = None
        self._sqlite_lock: SqliteProcessLock | None = None

    async def start(self) -> Services:
        """Open the database, check the platforms, start intake and delivery.

        While an API server can't be reached it logs one line per try and tries again
        (`startup_retry`); cancelling it then gives up cleanly, with what it opened closed
        (the database by `stop()`).
        """
        cfg = self.config
        await self._open_database()
        try:
            services = await self._start_services()
        except BaseException:
            # A start that fails is often not followed by stop(): the next start (the
            # admin's fix, or a test) must find the database closed and the file free.
            if self._db_open:
                self._db_open = False
                with contextlib.suppress(Exception):
                    await close_database(self._db)
            self._release_sqlite()
            raise
        self._run_services(services)
        logger.info("relaydesk started as @%s; operator group %s; storage %s",
                    services.username, cfg.operators.chat_id, cfg.storage.kind)
        return services

    async def _start_services(self) -> Services:
        cfg = self.config
        async with contextlib.AsyncExitStack() as opened:
            bot = self._bot()
            opened.push_async_callback(bot.session.close)
            username = await self.startup_retry.until_reachable(
                lambda: check_desk(bot, cfg.operators.chat_id,
                                   polling=cfg.telegram.mode == "polling"))
            await self.startup_retry.until_reachable(
                lambda: DepartmentParts.check_groups(bot, cfg))
            services = await self._build(bot, opened)
            await self._listen(services.http, opened)
            if services.max is not None:
                try:
                    await services.max.subscribe(services.http)
                except MaxSetupError as exc:
                    raise StartupError(str(exc)) from exc
            if services.webhook is not None:  # once we listen: updates may come at once
                await self.startup_retry.until_reachable(services.webhook.set)
            opened.pop_all()  # from here on they belong to `services` and close in stop()
        services.username = username
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
        if self.config.storage.kind == "sqlite" and self._sqlite_lock is None:
            lock = SqliteProcessLock(url.removeprefix("sqlite://").partition("?")[0])
            try:
                lock.take()
            except DatabaseInUse as exc:
                raise StartupError(str(exc)) from None
            self._sqlite_lock = lock
        try:
            await self._migrated_database(url)
        except BaseException:
            self._release_sqlite()
            raise

    async def _migrated_database(self, url: str) -> None:
        if not self._migrate:
            pending = await pending_migrations(url)
            if pending:
                raise StartupError(
                    f"storage.url: the database needs migrations {', '.join(pending)}; run "
                    "`relaydesk migrate -c CONFIG` first."
                )
        self._db = await open_database(url, apply_migrations=self._migrate)
        self._db_open = True

    def _release_sqlite(self) -> None:
        lock, self._sqlite_lock = self._sqlite_lock, None
        if lock is not None:
            lock.release()

    def _bot(self) -> Bot:
        tg = self.config.telegram
        pin_response_models()
        session = BotApiSession(
            api=TelegramAPIServer.from_base(tg.api_server),
            timeout=tg.request_timeout.total_seconds(),
        )
        return Bot(tg.token.get_secret_value(), session=session)

    async def _build(self, bot: Bot, opened: contextlib.AsyncExitStack) -> Services:  # noqa: PLR0915
        cfg = self.config
        store = TortoiseStore()
        # Several processes on one PostgreSQL hold every platform limit together.
        limiter = SharedLimiter() if cfg.storage.kind == "postgres" else SlidingWindowLimiter()
        files = Files()
        files.register(TelegramFiles(bot))
        desk, channels, desks = self._platforms(bot, files)
        vk = await self._connect_vk(limiter, files, opened)
        if vk is not None:
            channels[vk.channel.name] = vk.channel
        max_parts = await self._connect_max(limiter, files, opened)
        if max_parts is not None:
            channels[max_parts.channel.name] = max_parts.channel
        web = WebParts.build(cfg.web, files, self.clock)
        if web is not None:
            channels[web.channel.name] = web.channel
        transactions = Transactions(store, self.clock)
        queue = Queue(store, desk.chat_id)
        selfservice = SelfServiceParts.build(cfg, store, queue, transactions)
        faq_bot = bool(selfservice and selfservice.service.active)
        departments = DepartmentParts.build(cfg, store, queue, transactions, faq_bot=faq_bot)
        relayer = Relayer(store, self.clock, desk, channels, limiter, Desks(
            desk, desks, departments.departments.name_of if departments else None))
        outbox = self._outbox(store, transactions, queue, relayer, list(channels))
        surge = SurgeParts.build(cfg, store, desk, limiter, self.clock, relayer, transactions,
                                 queue)
        policy = sla_policy(cfg.service, cfg.operators.admins,
                            {d.id: d for d in cfg.departments}) if cfg.service else None
        sla_store = TortoiseSlaStore()
        lifecycle = Lifecycle([SlaClock(sla_store, policy, queue)] if policy else [])
        if departments is not None:
            lifecycle.add(departments.router)
        if selfservice is not None:
            lifecycle.add(selfservice.service)
        feedback = FeedbackParts.build(cfg, store, queue, transactions)
        for listener in feedback.listeners:
            lifecycle.add(listener)
        if web is not None:
            lifecycle.add(web.listener(store))
        intake = IntakeService(store, transactions, queue, lifecycle,
                               DeskRef(desk.platform, desk.chat_id, frozenset(desks)),
                               cfg.outbox.album_wait)
        conversations = Conversations(store, transactions, queue, lifecycle)
        sections = [selfservice.report] if selfservice else []
        controls = SlaControls(store, sla_store, transactions, queue, policy,
                               [*sections, *feedback.reports,
                                *(surge.reports() if surge else [])],
                               departments.report_scopes() if departments else None)
        commands = self._commands(intake, conversations,
                                  Linking(store, transactions, queue, conversations, lifecycle),
                                  controls)
        presses = Presses()  # capabilities with buttons under bot messages register here
        if selfservice is not None:
            selfservice.connect(intake.customers.hand_over, conversations.close,
                                intake.operators.relay_operator_to_customer, commands,
                                presses, store, queue, transactions)
        feedback.connect(cfg, presses, commands, store, queue, transactions,
                         intake.operators.relay_operator_to_customer, conversations.close,
                         policy)
        if departments is not None:
            departments.connect(intake.customers.hand_over, presses, commands)
        for group in [desk, *desks.values()]:
            group.set_buttons([(c.button.label, c.name) for c in commands.buttons()
                               if c.button])
        jobs = self._sla_jobs(policy, sla_store, transactions, queue, controls, desk, limiter,
                              relayer.desks, departments)
        if vk is not None:
            try:
                await vk.prepare(store, intake, self.clock, self.startup_retry, presses)
            except VkSetupError as exc:
                raise StartupError(str(exc)) from exc
        for chat in [cfg.operators.chat_id, *(departments.groups() if departments else [])]:
            await self.startup_retry.until_reachable(lambda chat=chat: publish_commands(
                bot, chat, [(c.name, c.summary) for c in commands.menu()]))
        # Parts of the one HTTP server (widget, webhooks, metrics) are added by their owners.
        http = self._http(web, intake, presses, files, web.details(store, transactions, queue)
                          if web is not None else None)
        if max_parts is not None:
            await max_parts.prepare(store, intake, self.clock, presses, http)
        dp = Dispatcher()
        dp["intake"] = intake
        dp["commands"] = commands
        dp["presses"] = presses
        dp["orphans"] = OrphanTopics(store, transactions, queue)
        dp.include_router(desk_router(cfg.operators.chat_id,
                                      departments.groups() if departments else ()))
        dp.include_router(customer_router())
        poller = DurablePoller(bot, dp, timeout=int(cfg.telegram.poll_timeout.total_seconds()))
        webhook = telegram_webhook(cfg, bot, dp, http)
        metrics = observe(http, self.clock, dp, outbox,
                          Intake(None if webhook else poller, webhook), vk)
        leadership = await self._lead(webhook is None, vk is not None, jobs, opened)
        return Services(bot, store, intake, outbox, poller, controls, commands, conversations,
                        presses, transactions, queue, lifecycle, jobs, vk=vk,
                        selfservice=selfservice, feedback=feedback, http=http,
                        max=max_parts, departments=departments, web=web, webhook=webhook,
                        metrics=metrics, leadership=leadership, surge=surge)

    async def _lead(self, polling: bool, vk: bool, jobs: SlaJobs | None,
                    opened: contextlib.AsyncExitStack) -> Leadership | None:
        """On PostgreSQL any number of processes run: one polls, one runs the jobs."""
        if self.config.storage.kind != "postgres":
            return None
        roles = [POLLING] * polling + [VK_POLLING] * vk + [JOBS]
        leadership = Leadership(self.config.storage.tortoise_url, roles)
        await leadership.start()
        opened.push_async_callback(leadership.stop)
        if jobs is not None:
            jobs.leads = lambda: leadership.holds(JOBS)
        return leadership

    def _http(self, web: WebParts | None, intake: IntakeService, presses: Presses,
              files: Files, details: WebDetails | None) -> HttpServer | None:
        """The HTTP server with its parts (none without an `http:` section)."""
        cfg = self.config.http
        if cfg is None:
            return None
        http = HttpServer(cfg)
        if web is not None and details is not None:
            web.mount(http, cfg, intake, presses, files, details)
        for part in self._http_parts:
            http.add(part)
        return http

    def _platforms(self, bot: Bot, files: Files
                   ) -> tuple[TelegramDesk, dict[str, ChannelPort], dict[str, TelegramDesk]]:
        """The operator group's desk, the channels, and a desk per department group (each
        with its own group limit)."""
        cfg, tg = self.config, self.config.telegram
        bot_limit = _limit("tg:bot", tg.limits.bot)

        def desk_of(chat: int) -> TelegramDesk:
            return TelegramDesk(bot, chat, _limit(f"tg:chat:{chat}", tg.limits.group),
                                bot_limit, files)

        desk = desk_of(cfg.operators.chat_id)
        groups = {str(d.chat_id) for d in cfg.departments} - {desk.chat_id}
        channel = TelegramChannel(bot, _limit("tg:chat:*", tg.limits.private_chat), bot_limit)
        department_desks = {g: desk_of(int(g)) for g in sorted(groups)}
        self._telegram = (desk, channel, department_desks)  # what a config reload changes
        return desk, {channel.name: channel}, department_desks

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
                  desk: TelegramDesk, limiter: SlidingWindowLimiter, desks: Desks | None = None,
                  departments: DepartmentParts | None = None) -> SlaJobs | None:
        service = self.config.service
        if service is None or policy is None:
            return None
        sweeper = SlaSweeper(sla_store, transactions, queue, policy, on_duty_of=(
            departments.departments.on_duty_of if departments else None))
        titles = TitleKeeper(sla_store, desk, limiter, self.clock, desks=desks)
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

    async def _connect_max(self, limiter: SlidingWindowLimiter, files: Files,
                           opened: contextlib.AsyncExitStack) -> MaxParts | None:
        cfg = self.config.max
        if cfg is None or not cfg.enabled:
            return None
        if cfg.mode == "webhook" and self.config.http is None:
            raise StartupError("max.mode: webhook mode needs the http: section (the server "
                               "MAX pushes to); add it, or use mode: polling")
        try:
            parts = await MaxParts.connect(cfg, limiter, files, self.startup_retry)
        except MaxSetupError as exc:
            raise StartupError(str(exc)) from exc
        opened.push_async_callback(parts.close)
        return parts

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
        combining = services.feedback.run() if services.feedback else None
        if combining is not None:
            services.tasks.append(combining)
        if services.webhook is None:
            polling = services.poller.run() if services.leadership is None else \
                poll_while_leading(services.poller, services.leadership)
            services.tasks.append(asyncio.create_task(polling, name="polling"))
        if services.surge is not None:
            services.tasks += services.surge.run()
        if services.vk is not None:
            services.tasks.append(services.vk.run() if services.leadership is None else
                                  asyncio.create_task(vk_while_leading(
                                      services.vk, services.leadership), name="vk-polling"))
        max_polling = services.max.run() if services.max is not None else None
        if max_polling is not None:
            services.tasks.append(max_polling)
        if services.departments is not None and services.departments.router.takes_conversations:
            services.tasks.append(asyncio.create_task(services.departments.run(),
                                                      name="departments"))
        self.services = services

    def reloader(self, path: str) -> Reloader:
        """Config reload for the running services (see bots/reload.py)."""
        services = self.services
        assert services is not None
        desk, channel, department_desks = self._telegram

        def limits(new: Config) -> None:
            bot_limit = _limit("tg:bot", new.telegram.limits.bot)
            for group in [desk, *department_desks.values()]:
                group.set_limits(_limit(f"tg:chat:{group.chat_id}", new.telegram.limits.group),
                                 bot_limit)
            channel.set_limits(_limit("tg:chat:*", new.telegram.limits.private_chat), bot_limit)

        leadership = services.leadership
        return Reloader(
            path, self.config,
            {"operators.admins": lambda new: services.commands.set_admins(
                [str(a) for a in new.operators.admins]),
             "telegram.limits": limits},
            services.transactions, services.queue.general,
            lambda: leadership is None or leadership.holds(JOBS))

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
        if self.config.max is not None and self.config.max.enabled:
            timeouts.append(self.config.max.request_timeout.total_seconds())
        return max(timeouts)

    async def stop(self) -> None:
        """Stop taking updates, let in-flight deliveries finish or stay queued, close all."""
        services, self.services = self.services, None
        if services is not None:
            services.poller.stop()
            if services.vk is not None:
                services.vk.stop()
            if services.max is not None:
                services.max.stop()
            polling = [t for t in services.tasks
                       if t.get_name() in ("polling", "vk-polling", "max-polling")]
            # A batch being handled finishes (its updates commit) before anything else stops.
            if polling:
                await asyncio.wait(polling, timeout=15)
            if services.leadership is not None:  # another process polls from now on
                await services.leadership.stop()
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
            if services.max is not None:
                await services.max.close()
        if self._db_open:
            self._db_open = False
            await close_database(self._db)
        self._release_sqlite()

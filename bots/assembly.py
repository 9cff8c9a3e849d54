"""Putting one start's services together from the config: the platforms and channels,
the core (outbox, lifecycle and the capabilities listening to it, intake, commands,
buttons), then what takes updates in (the dispatcher, webhooks, the HTTP server's parts,
leadership on a shared PostgreSQL). `App` (bots/app.py) starts, runs and stops the result.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from aiogram import Bot, Dispatcher

from adapters.max.startup import MaxSetupError
from adapters.telegram.customer import TelegramChannel, customer_router
from adapters.telegram.desk import TelegramDesk
from adapters.telegram.desk_updates import desk_router
from adapters.telegram.files import TelegramFiles
from adapters.telegram.polling import DurablePoller
from adapters.telegram.startup import publish_commands
from adapters.vk.startup import VkSetupError
from bots.config import Config
from bots.config_service import sla_policy
from bots.departments import DepartmentParts
from bots.feedback import FeedbackParts
from bots.health import Intake
from bots.http import HttpPart, HttpServer
from bots.leading import JOBS, MAX_POLLING, POLLING, VK_POLLING
from bots.max import MaxParts
from bots.observability import observe
from bots.selfservice import SelfServiceParts
from bots.services import Services, StartupError, rate_key
from bots.sla_jobs import SlaJobs
from bots.startup import StartupRetry
from bots.surge import SurgeParts
from bots.vk import VkParts
from bots.web import WebParts
from bots.webhook import telegram_webhook
from core.clock import Clock
from core.commands import Commands
from core.conversations import commands as conversation_commands
from core.conversations.linking import Linking
from core.conversations.service import Conversations
from core.delivery.cards import CardEdits
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
from core.ports import ChannelPort
from core.presses import Presses
from core.sla import commands as sla_commands
from core.sla.clock import SlaClock
from core.sla.controls import SlaControls
from core.sla.policy import SlaPolicy
from core.sla.sweep import SlaSweeper
from core.sla.titles import TitleKeeper
from core.unit import Transactions
from storage.cards import TortoiseCardPosts
from storage.leadership import Leadership
from storage.shared_limits import SharedLimiter
from storage.sla import TortoiseSlaStore
from storage.store import TortoiseStore


@dataclass
class _Platforms:
    """The platform side: the operator group's desk (and each department group's), the
    customer channels by name, and the optional channels' parts."""

    desk: TelegramDesk
    desks: dict[str, TelegramDesk]
    channels: dict[str, ChannelPort]
    files: Files
    limiter: SlidingWindowLimiter
    vk: VkParts | None
    max: MaxParts | None
    web: WebParts | None


@dataclass
class _Core:
    """The domain side, built on the platforms."""

    store: TortoiseStore
    transactions: Transactions
    queue: Queue
    relayer: Relayer
    outbox: Outbox
    lifecycle: Lifecycle
    intake: IntakeService
    conversations: Conversations
    controls: SlaControls
    commands: Commands
    presses: Presses
    policy: SlaPolicy | None
    sla_store: TortoiseSlaStore
    selfservice: SelfServiceParts | None
    departments: DepartmentParts | None
    feedback: FeedbackParts
    surge: SurgeParts | None
    sla_clock: SlaClock | None = None  # a config reload swaps its policy


class Assembly:
    """One start's services from the config (used once per start)."""

    def __init__(self, config: Config, clock: Clock, startup_retry: StartupRetry,
                 http_parts: list[HttpPart]) -> None:
        self.config = config
        self.clock = clock
        self.startup_retry = startup_retry
        self._http_parts = http_parts  # more parts for the HTTP server (the sandbox's)
        # What a config reload changes: the desks and the Telegram channel.
        self.telegram: tuple[TelegramDesk, TelegramChannel, dict[str, TelegramDesk]] | None = None

    async def build(self, bot: Bot, opened: contextlib.AsyncExitStack) -> Services:
        platforms = await self._platforms(bot, opened)
        core = self._core(platforms)
        jobs = self._sla_jobs(core, platforms)
        return await self._intake_side(bot, platforms, core, jobs, opened)

    # ---- the platforms --------------------------------------------------------------------

    async def _platforms(self, bot: Bot, opened: contextlib.AsyncExitStack) -> _Platforms:
        # Several processes on one PostgreSQL hold every platform limit together.
        limiter = SharedLimiter() if self.config.storage.kind == "postgres" \
            else SlidingWindowLimiter()
        opened.push_async_callback(limiter.drain)  # a failed start: its presence mark goes
        files = Files()
        files.register(TelegramFiles(bot))
        desk, channels, desks = self._telegram(bot, files)
        vk = await self._connect_vk(limiter, files, opened)
        max_parts = await self._connect_max(limiter, files, opened)
        web = WebParts.build(self.config.web, files, self.clock)
        for extra in (vk, max_parts, web):
            if extra is not None:
                channels[extra.channel.name] = extra.channel
        return _Platforms(desk, desks, channels, files, limiter, vk, max_parts, web)

    def _telegram(self, bot: Bot, files: Files
                  ) -> tuple[TelegramDesk, dict[str, ChannelPort], dict[str, TelegramDesk]]:
        """The operator group's desk, the channels, and a desk per department group (each
        with its own group limit)."""
        cfg, tg = self.config, self.config.telegram
        bot_limit = rate_key("tg:bot", tg.limits.bot)

        def desk_of(chat: int) -> TelegramDesk:
            return TelegramDesk(bot, chat, rate_key(f"tg:chat:{chat}", tg.limits.group),
                                bot_limit, files)

        desk = desk_of(cfg.operators.chat_id)
        groups = {str(d.chat_id) for d in cfg.departments} - {desk.chat_id}
        channel = TelegramChannel(bot, rate_key("tg:chat:*", tg.limits.private_chat), bot_limit)
        department_desks = {g: desk_of(int(g)) for g in sorted(groups)}
        self.telegram = (desk, channel, department_desks)
        return desk, {channel.name: channel}, department_desks

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

    # ---- the core ---------------------------------------------------------------------------

    def _core(self, p: _Platforms) -> _Core:
        cfg = self.config
        store = TortoiseStore()
        transactions = Transactions(store, self.clock)
        queue = Queue(store, p.desk.chat_id)
        selfservice = SelfServiceParts.build(cfg, store, queue, transactions)
        faq_bot = bool(selfservice and selfservice.service.active)
        departments = DepartmentParts.build(cfg, store, queue, transactions, faq_bot=faq_bot)
        relayer = Relayer(store, self.clock, p.desk, p.channels, p.limiter, Desks(
            p.desk, p.desks, departments.departments.name_of if departments else None))
        # Cards rendered again (a ban, its end).
        relayer.cards = CardEdits(TortoiseCardPosts(), relayer.topics)
        outbox = self._outbox(store, transactions, queue, relayer, list(p.channels))
        surge = SurgeParts.build(cfg, store, p.desk, p.desks, p.limiter, self.clock, relayer,
                                 transactions, queue)
        policy = sla_policy(cfg.service, cfg.operators.admins,
                            {d.id: d for d in cfg.departments}) if cfg.service else None
        sla_store = TortoiseSlaStore()
        feedback = FeedbackParts.build(cfg, store, queue, transactions)
        relayer.topics.card_lines.append(feedback.bans)  # a ban is shown on the card
        sla_clock = SlaClock(sla_store, policy, queue) if policy else None
        lifecycle = self._lifecycle(sla_clock, departments, selfservice, feedback, p.web, store)
        intake = IntakeService(store, transactions, queue, lifecycle,
                               DeskRef(p.desk.platform, p.desk.chat_id, frozenset(p.desks)),
                               cfg.outbox.album_wait)
        conversations = Conversations(store, transactions, queue, lifecycle)
        controls = SlaControls(store, sla_store, transactions, queue, policy,
                               [*([selfservice.report] if selfservice else []),
                                *feedback.reports, *(surge.reports() if surge else [])],
                               departments.report_scopes() if departments else None)
        commands = self._commands(intake, conversations, Linking(
            store, transactions, queue, conversations, lifecycle), controls)
        core = _Core(store, transactions, queue, relayer, outbox, lifecycle, intake,
                     conversations, controls, commands, Presses(), policy, sla_store,
                     selfservice, departments, feedback, surge, sla_clock)
        self._connect_capabilities(core, p)
        return core

    @staticmethod
    def _lifecycle(sla: SlaClock | None, departments: DepartmentParts | None,
                   selfservice: SelfServiceParts | None, feedback: FeedbackParts,
                   web: WebParts | None, store: TortoiseStore) -> Lifecycle:
        """The listeners, in the order they hear of a change: the response clock first,
        routing before the FAQ bot takes a conversation, bans before the survey."""
        lifecycle = Lifecycle([sla] if sla is not None else [])
        if departments is not None:
            lifecycle.add(departments.router)
        if selfservice is not None:
            lifecycle.add(selfservice.service)
        for listener in feedback.listeners:
            lifecycle.add(listener)
        if web is not None:
            lifecycle.add(web.listener(store))
        return lifecycle

    def _commands(self, intake: IntakeService, conversations: Conversations, linking: Linking,
                  controls: SlaControls) -> Commands:
        """Every capability registers its operator commands (and buttons) here."""
        commands = Commands(admins=[str(a) for a in self.config.operators.admins])
        intake_commands.register(commands, intake.operators)
        conversation_commands.register(commands, conversations, linking)
        sla_commands.register(commands, controls)
        return commands

    def _connect_capabilities(self, c: _Core, p: _Platforms) -> None:
        """Capabilities with commands and customer buttons register them."""
        answer = c.intake.operators.relay_operator_to_customer
        if c.selfservice is not None:
            c.selfservice.connect(c.intake.customers.hand_over, c.conversations.close, answer,
                                  c.commands, c.presses, c.store, c.queue, c.transactions)
        c.feedback.connect(self.config, c.presses, c.commands, c.store, c.queue,
                           c.transactions, answer, c.conversations.close, c.policy)
        if c.departments is not None:
            c.departments.connect(c.intake.customers.hand_over, c.presses, c.commands)
        for group in [p.desk, *p.desks.values()]:
            group.set_buttons([(b.button.label, b.name) for b in c.commands.buttons()
                               if b.button])

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

    def _sla_jobs(self, c: _Core, p: _Platforms) -> SlaJobs | None:
        service = self.config.service
        if service is None or c.policy is None:
            return None
        departments = c.departments
        sweeper = SlaSweeper(c.sla_store, c.transactions, c.queue, c.policy, on_duty_of=(
            departments.departments.on_duty_of if departments else None))
        titles = TitleKeeper(c.sla_store, p.desk, p.limiter, self.clock, desks=c.relayer.desks)
        return SlaJobs(service, sweeper, c.controls, titles)

    # ---- taking updates in --------------------------------------------------------------------

    async def _intake_side(self, bot: Bot, p: _Platforms, c: _Core, jobs: SlaJobs | None,
                           opened: contextlib.AsyncExitStack) -> Services:
        cfg = self.config
        if p.vk is not None:
            try:
                await p.vk.prepare(c.store, c.intake, self.clock, self.startup_retry, c.presses)
            except VkSetupError as exc:
                raise StartupError(str(exc)) from exc
        groups = c.departments.groups() if c.departments else []
        for chat in [cfg.operators.chat_id, *groups]:
            await self.startup_retry.until_reachable(lambda chat=chat: publish_commands(
                bot, chat, [(m.name, m.summary) for m in c.commands.menu()]))
        http = self._http(p, c)
        if p.max is not None:
            await p.max.prepare(c.store, c.intake, self.clock, c.presses, http)
        # No handler keeps FSM state; aiogram's FSM middleware would still resolve a state
        # context for every update (~20 us of its ~90 us dispatch, in process).
        dp = Dispatcher(disable_fsm=True)
        dp["intake"], dp["commands"], dp["presses"] = c.intake, c.commands, c.presses
        dp["orphans"] = OrphanTopics(c.store, c.transactions, c.queue)
        dp.include_router(desk_router(cfg.operators.chat_id, groups))
        dp.include_router(customer_router())
        poller = DurablePoller(bot, dp, timeout=int(cfg.telegram.poll_timeout.total_seconds()),
                               runs=c.intake.held_run)
        webhook = telegram_webhook(cfg, bot, dp, http)
        metrics = observe(http, self.clock, dp, c.outbox,
                          Intake(None if webhook else poller, webhook), p.vk)
        vk_polls = p.vk is not None and p.vk.longpoll is not None  # not in callback mode
        leadership = await self._lead(webhook is None, vk_polls, jobs, opened,
                                      p.max is not None and p.max.polling is not None)
        return Services(bot, c.store, c.intake, c.outbox, poller, c.controls, c.commands,
                        c.conversations, c.presses, c.transactions, c.queue, c.lifecycle, jobs,
                        vk=p.vk, selfservice=c.selfservice, feedback=c.feedback, http=http,
                        max=p.max, departments=c.departments, web=p.web, webhook=webhook,
                        metrics=metrics, leadership=leadership, surge=c.surge,
                        sla_clock=c.sla_clock, limiter=p.limiter)

    def _http(self, p: _Platforms, c: _Core) -> HttpServer | None:
        """The HTTP server with its parts (none without an `http:` section); parts of the
        one server (widget, webhooks, metrics) are added by their owners."""
        cfg = self.config.http
        if cfg is None:
            return None
        http = HttpServer(cfg)
        if p.web is not None:
            p.web.mount(http, cfg, c.intake, c.presses, p.files,
                        p.web.details(c.store, c.relayer.topics))
        if p.vk is not None and p.vk.callback is not None:
            http.add(p.vk.callback)
        for part in self._http_parts:
            http.add(part)
        return http

    async def _lead(self, polling: bool, vk: bool, jobs: SlaJobs | None,
                    opened: contextlib.AsyncExitStack, max_polls: bool = False
                    ) -> Leadership | None:
        """On PostgreSQL any number of processes run: one polls, one runs the jobs."""
        if self.config.storage.kind != "postgres":
            return None
        roles = [POLLING] * polling + [VK_POLLING] * vk + [MAX_POLLING] * max_polls + [JOBS]
        leadership = Leadership(self.config.storage.tortoise_url, roles)
        await leadership.start()
        opened.push_async_callback(leadership.stop)
        if jobs is not None:
            jobs.leads = lambda: leadership.holds(JOBS)
        return leadership

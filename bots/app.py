"""The composition root: config → database → the services (bots/assembly.py) → running;
stop in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer

from adapters.max.startup import MaxSetupError
from adapters.telegram.responses import pin_response_models
from adapters.telegram.session import BotApiSession
from adapters.telegram.startup import check_desk
from bots.assembly import Assembly
from bots.config import Config
from bots.departments import DepartmentParts
from bots.http import HttpPart, HttpServer
from bots.leading import JOBS, max_task, poll_while_leading, vk_while_leading
from bots.reload import Reloader
from bots.reload_parts import LiveParts
from bots.services import Services, StartupError
from bots.startup import StartupRetry
from core.clock import Clock, SystemClock
from storage.database import close_database, open_database, pending_migrations
from storage.sqlite_lock import DatabaseInUse, SqliteProcessLock

__all__ = ["App", "Services", "StartupError"]

logger = logging.getLogger(__name__)


class App:
    def __init__(self, config: Config, clock: Clock | None = None, *,
                 migrate: bool | None = None, startup_retry: StartupRetry | None = None,
                 http_parts: list[HttpPart] | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        # How long start waits between tries of an API server that can't be reached.
        self.startup_retry = startup_retry or StartupRetry()
        self._http_parts = http_parts or []  # more parts for the HTTP server (the sandbox's)
        self._assembly: Assembly | None = None
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
            self._assembly = Assembly(cfg, self.clock, self.startup_retry, self._http_parts)
            services = await self._assembly.build(bot, opened)
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
        if services.vk is not None:  # callback mode: every process takes VK's events
            services.tasks.append(services.vk.run() if services.leadership is None
                                  or services.vk.longpoll is None else
                                  asyncio.create_task(vk_while_leading(
                                      services.vk, services.leadership), name="vk-polling"))
        max_polling = max_task(services.max, services.leadership)
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
        assert self._assembly is not None and self._assembly.telegram is not None
        leadership = services.leadership
        return Reloader(
            path, self.config, LiveParts.of(services, self.config, self._assembly.telegram),
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
            if services.limiter is not None:
                await services.limiter.drain()
            await services.bot.session.close()
            if services.vk is not None:
                await services.vk.close()
            if services.max is not None:
                await services.max.close()
        if self._db_open:
            self._db_open = False
            await close_database(self._db)
        self._release_sqlite()

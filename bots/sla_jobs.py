"""The SLA jobs in the bot process: APScheduler with its in-memory job store.

Nothing about a deadline lives in the scheduler: every job reads the database, so a restart
loses nothing and a job that runs twice (two processes, a late run) changes nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bots.config_service import ServiceConfig
from core.sla.controls import SlaControls
from core.sla.sweep import SlaSweeper
from core.sla.titles import TitleKeeper

logger = logging.getLogger(__name__)


class SlaJobs:
    def __init__(self, service: ServiceConfig, sweeper: SlaSweeper, controls: SlaControls,
                 titles: TitleKeeper) -> None:
        self._service = service
        self._titles = titles
        self.sweeper = sweeper
        self._controls = controls
        self.scheduler = AsyncIOScheduler(jobstores={"default": MemoryJobStore()}, timezone=UTC)
        self.runs: dict[str, int] = {}  # job id → completed runs (tests and logs look)
        # Several processes on one PostgreSQL: only the one leading the jobs runs a tick.
        self.leads: Callable[[], bool] = lambda: True

    def start(self) -> None:
        service, add = self._service, self.scheduler.add_job
        # The sweep's first run is immediate: deadlines that passed while we were down are
        # handled on start, not one interval later.
        add(self._job("sla-sweep", self.sweeper.sweep), IntervalTrigger(
            seconds=service.sweep_interval.total_seconds()), id="sla-sweep", max_instances=1,
            coalesce=True, next_run_time=datetime.now(UTC))
        if service.title_debounce is not None:
            add(self._job("sla-titles", self._titles.run), IntervalTrigger(
                seconds=service.sweep_interval.total_seconds()), id="sla-titles",
                max_instances=1, coalesce=True)
        if service.digest_interval is not None:
            add(self._job("sla-digest", self.sweeper.digest), IntervalTrigger(
                seconds=service.digest_interval.total_seconds()), id="sla-digest",
                max_instances=1, coalesce=True)
        at = service.report_time()
        if at is not None:
            add(self._job("sla-daily-report", self._controls.daily),
                CronTrigger(hour=at.hour, minute=at.minute, timezone=self._controls.zone),
                id="sla-daily-report", max_instances=1, coalesce=True)
        self.scheduler.start()

    def _job(self, name: str, work: Callable[[], Awaitable[object]]
             ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if not self.leads():
                return
            try:
                await work()
            except Exception:
                # The next run tries again; the database still holds every deadline.
                logger.exception("SLA job %s failed", name)
            self.runs[name] = self.runs.get(name, 0) + 1

        return run

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


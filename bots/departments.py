"""The departments' parts, built from config and wired by the App (see core/departments)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiogram import Bot

from adapters.telegram.startup import check_group
from bots.config import Config
from bots.config_departments import departments_of
from core.commands import Commands
from core.delivery.queue import Queue
from core.departments import transfer
from core.departments.model import Departments
from core.departments.service import PREFIX, DepartmentRouter, HandOver
from core.ports import Store
from core.presses import Presses
from core.sla.controls import ReportScope
from core.unit import Transactions
from storage.departments import TortoiseDepartmentStore

logger = logging.getLogger(__name__)


@dataclass
class DepartmentParts:
    departments: Departments
    router: DepartmentRouter
    transfers: transfer.Transfers

    @classmethod
    def build(cls, config: Config, shared: Store, queue: Queue, transactions: Transactions,
              *, faq_bot: bool) -> DepartmentParts | None:
        departments = departments_of(config.departments, config.routing,
                                     config.operators.chat_id)
        if departments is None:
            return None
        store = TortoiseDepartmentStore()
        router = DepartmentRouter(departments, store, shared, queue, transactions,
                                  asks=departments.routing.ask and not faq_bot)
        return cls(departments, router,
                   transfer.Transfers(departments, store, shared, queue, transactions))

    def report_scopes(self) -> dict[str, ReportScope]:
        """Each department group's report covers the departments working there."""
        scopes = {}
        for group in sorted(self.departments.groups()):
            here = [d for d in self.departments.all if d.desk_chat == group]
            scopes[group] = ReportScope(frozenset(d.id for d in here),
                                        " · ".join(d.name() for d in here))
        return scopes

    def groups(self) -> list[int]:
        return sorted(int(chat) for chat in self.departments.groups())

    def connect(self, hand_over: HandOver, presses: Presses, commands: Commands) -> None:
        self.router.connect(hand_over)
        presses.register(PREFIX, self.router.press)
        transfer.register(commands, self.transfers)

    @staticmethod
    async def check_groups(bot: Bot, config: Config) -> None:
        """Every department's group is checked like the operator group, by its key path."""
        for number, department in enumerate(config.departments):
            if department.chat_id != config.operators.chat_id:
                await check_group(bot, department.chat_id, f"departments[{number}].chat_id")

    async def run(self) -> None:
        """Customers who did not choose within `routing.ask_wait` go to the default."""
        if not self.router.takes_conversations:
            return
        every = min(5.0, self.departments.routing.ask_wait.total_seconds() / 4)
        while True:
            await asyncio.sleep(every)
            try:
                await self.router.route_unanswered()
            except Exception:  # the next round tries again (a database hiccup)
                logger.exception("departments: routing unanswered customers failed")

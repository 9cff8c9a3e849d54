"""The after-the-answer capabilities' parts, built from config for the composition root
(bots/app.py): the survey (its listener, store, report lines and buttons) and the canned
replies' /t command."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from bots.config import Config
from bots.config_feedback import canned_of
from core.abuse import commands as ban_commands
from core.abuse.bans import Bans
from core.abuse.flood import Flood
from core.abuse.ports import Close
from core.abuse.report import AbuseReport
from core.canned import commands as canned_commands
from core.canned.commands import AnswerAsOperator, NextOpening
from core.commands import Commands
from core.delivery.queue import Queue
from core.feedback.report import CsatReport
from core.feedback.service import PREFIX as CSAT_PREFIX
from core.feedback.service import Csat
from core.feedback.texts import SurveyTexts
from core.lifecycle import LifecycleListener
from core.ports import Store
from core.presses import Presses
from core.report_sections import ReportSection
from core.sla.policy import SlaPolicy
from core.unit import Transactions
from storage.abuse import TortoiseAbuseStore
from storage.feedback import TortoiseSurveyStore

logger = logging.getLogger(__name__)


async def _combining(flood: Flood) -> None:
    """Every `combine_every`; a failed round (the database away) is tried at the next."""
    every = flood.settings.combine_every.total_seconds()
    while True:
        await asyncio.sleep(every)
        try:
            await flood.combine()
        except Exception:
            logger.exception("combining flood messages failed; trying again in %ss", every)


def next_opening_of(policy: SlaPolicy | None) -> NextOpening | None:
    """When the desk of a channel and department opens next (now, while open), in its time
    zone."""
    if policy is None:
        return None

    def next_opening(channel: str, department: str | None, now: datetime) -> datetime:
        hours = policy.channel(channel, department).hours
        return hours.next_open(now).astimezone(hours.zone)

    return next_opening


@dataclass
class FeedbackParts:
    csat: Csat
    bans: Bans
    abuse_store: TortoiseAbuseStore
    reports: list[ReportSection]
    flood: Flood | None = None
    canned: canned_commands.CannedCommand | None = None  # set by connect()

    @classmethod
    def build(cls, config: Config, shared: Store, queue: Queue, transactions: Transactions
              ) -> FeedbackParts:
        abuse_store = TortoiseAbuseStore()
        bans = Bans(abuse_store, shared, queue)
        survey_store = TortoiseSurveyStore()
        csat = Csat(survey_store, shared, queue, transactions, SurveyTexts(config.csat.texts),
                    config.csat.settings(), bans.silenced)
        flood = Flood(abuse_store, shared, queue, transactions, config.abuse.settings(),
                      config.abuse.slow_down_texts()) if config.abuse.enabled else None
        return cls(csat, bans, abuse_store, [CsatReport(survey_store),
                                             AbuseReport(abuse_store)], flood)

    @property
    def listeners(self) -> list[LifecycleListener]:
        """Bans first: a banned customer's message is theirs, never a survey comment."""
        return [self.bans, self.csat] + ([self.flood] if self.flood else [])

    def run(self) -> asyncio.Task[None] | None:
        """The task that posts held flood messages combined (None without flood limits)."""
        if self.flood is None:
            return None
        return asyncio.create_task(_combining(self.flood), name="flood-combine")

    def connect(self, config: Config, presses: Presses, commands: Commands, shared: Store,
                queue: Queue, transactions: Transactions, answer: AnswerAsOperator,
                close: Close, policy: SlaPolicy | None) -> None:
        """Register the customers' buttons and the operators' commands."""
        presses.register(CSAT_PREFIX, self.csat.press)
        ban_commands.register(commands, ban_commands.BanCommands(
            self.abuse_store, shared, queue, transactions, close, commands))
        self.canned = canned_commands.CannedCommand(
            canned_of(config.canned), shared, queue, transactions, answer,
            next_opening_of(policy))
        canned_commands.register(commands, self.canned)

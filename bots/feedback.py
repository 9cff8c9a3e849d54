"""The after-the-answer capabilities' parts, built from config for the composition root
(bots/app.py): the survey (its listener, store, report lines and buttons)."""

from __future__ import annotations

from dataclasses import dataclass

from bots.config import Config
from core.delivery.queue import Queue
from core.feedback.ports import Silenced
from core.feedback.report import CsatReport
from core.feedback.service import PREFIX as CSAT_PREFIX
from core.feedback.service import Csat
from core.feedback.texts import SurveyTexts
from core.ports import Store
from core.presses import Presses
from core.unit import Transactions
from storage.feedback import TortoiseSurveyStore


@dataclass
class FeedbackParts:
    csat: Csat
    csat_report: CsatReport

    @classmethod
    def build(cls, config: Config, shared: Store, queue: Queue, transactions: Transactions,
              silenced: Silenced | None = None) -> FeedbackParts:
        store = TortoiseSurveyStore()
        csat = Csat(store, shared, queue, transactions, SurveyTexts(config.csat.texts),
                    config.csat.settings(), silenced)
        return cls(csat, CsatReport(store))

    @property
    def listeners(self) -> list[Csat]:
        return [self.csat]

    @property
    def reports(self) -> list[CsatReport]:
        return [self.csat_report]

    def connect(self, presses: Presses) -> None:
        """Register the customers' buttons."""
        presses.register(CSAT_PREFIX, self.csat.press)

"""Self-service's parts, built from config for the composition root (bots/app.py): the
matcher (the Russian dictionary loads once, ~0.3 s), the lifecycle listener, its store,
its report lines and the /faq command."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bots.config import Config
from bots.config_selfservice import faq_of
from core.commands import Commands
from core.delivery.queue import Queue
from core.ports import Store
from core.presses import Presses
from core.selfservice import commands as faq_commands
from core.selfservice.analyzer import Analyzer
from core.selfservice.matcher import Matcher
from core.selfservice.ports import AnswerAsOperator, Close, HandOver
from core.selfservice.report import SelfServiceReport
from core.selfservice.service import PREFIX, SelfService, SelfServiceSettings
from core.selfservice.texts import CustomerTexts
from core.unit import Transactions
from storage.selfservice import TortoiseSelfServiceStore


def matcher_of(config: Config) -> Matcher:
    # pymorphy3 logs where its dictionary is at INFO on every load: noise in our logs.
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)
    return Matcher(faq_of(config.faq), Analyzer())


@dataclass
class SelfServiceParts:
    service: SelfService
    store: TortoiseSelfServiceStore
    report: SelfServiceReport

    @classmethod
    def build(cls, config: Config, shared: Store, queue: Queue, transactions: Transactions
              ) -> SelfServiceParts | None:
        """None without an FAQ (nothing of self-service is loaded then)."""
        if not config.faq:
            return None
        settings = config.selfservice
        store = TortoiseSelfServiceStore()
        service = SelfService(
            matcher_of(config), CustomerTexts(settings.texts), store, shared, queue,
            transactions, SelfServiceSettings(settings.bot, settings.default_language))
        return cls(service, store, SelfServiceReport(store))

    def connect(self, hand_over: HandOver, close: Close, answer: AnswerAsOperator,
                commands: Commands, presses: Presses, shared: Store, queue: Queue,
                transactions: Transactions) -> None:
        """Hand it what it uses of intake and conversations, and register its command and
        its buttons."""
        self.service.connect(hand_over, close)
        faq_commands.register(commands, faq_commands.FaqCommand(
            self.service, self.store, shared, queue, transactions, answer))
        presses.register(PREFIX, self.service.press)

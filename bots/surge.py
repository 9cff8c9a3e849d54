"""Surge's parts for the composition root (bots/app.py): spare topics and the one-send
first post, from `outbox.spare_topics` (0: neither, today's topic, card and message), and
coalescing and fair order under pressure, from `outbox.coalesce`. Each group with its own
budget (the operator group, departments' own groups) has its own spares, its own order and
its own surge notices."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from adapters.telegram.desk import TelegramDesk
from bots.config import Config
from core.clock import Clock
from core.delivery.coalesce import Coalescer
from core.delivery.fairness import FairBudgets
from core.delivery.first_post import FirstPosts
from core.delivery.queue import Queue
from core.delivery.ratelimit import SlidingWindowLimiter
from core.delivery.relay import Relayer
from core.delivery.spares import MAIN, SpareTopics
from core.delivery.surge import SurgeReport, SurgeWatch
from core.model import Conversation
from core.unit import Transactions
from storage.store import TortoiseStore
from storage.surge import TortoiseSurgeStore

# How often the spare keeper looks whether the budget is idle (a look is two reads).
SPARES_EVERY = 1.0
# How often the queue into the group is measured for surge notices (one count query).
SURGE_EVERY = 1.0


@dataclass
class SurgeParts:
    spares: SpareTopics | None
    first_posts: FirstPosts | None
    coalescer: Coalescer | None
    watch: SurgeWatch | None = None
    report: SurgeReport | None = None

    @classmethod
    def build(cls, config: Config, store: TortoiseStore, desk: TelegramDesk,
              groups: Mapping[str, TelegramDesk], limiter: SlidingWindowLimiter,
              clock: Clock, relayer: Relayer, transactions: Transactions, queue: Queue
              ) -> SurgeParts | None:
        """`groups`: the departments' own groups besides the operator group, by chat."""
        wanted, coalesce = config.outbox.spare_topics, config.outbox.coalesce
        if wanted <= 0 and not coalesce:
            return None
        by_chat = {desk.chat_id: desk, **groups}

        def desk_of(conversation: Conversation) -> TelegramDesk:
            return by_chat.get(relayer.desks.of(conversation).chat_id, desk)

        surge_store = TortoiseSurgeStore()
        spares = first_posts = coalescer = None
        if wanted > 0:
            spares = SpareTopics(surge_store, store, {MAIN: desk, **groups}, limiter, clock,
                                 wanted)
            first_posts = FirstPosts(store, surge_store, desk_of, relayer.topics, spares)
            relayer.first_posts = first_posts
        if coalesce:
            zone = ZoneInfo(config.service.timezone if config.service else "UTC")
            coalescer = Coalescer(surge_store, desk_of, zone)
            relayer.coalescer = coalescer
            relayer.fair = FairBudgets(limiter, relayer.desks, store)
            watch = SurgeWatch(surge_store, transactions, queue, relayer.desks, clock)
            return cls(spares, first_posts, coalescer, watch, SurgeReport(surge_store, zone))
        return cls(spares, first_posts, coalescer)

    def reports(self) -> list[SurgeReport]:
        return [self.report] if self.report is not None else []

    def run(self) -> list[asyncio.Task[None]]:
        tasks = []
        if self.spares is not None:
            tasks.append(asyncio.create_task(self.spares.run(SPARES_EVERY), name="spare-topics"))
        if self.watch is not None:
            tasks.append(asyncio.create_task(self.watch.run(SURGE_EVERY), name="surge-watch"))
        return tasks

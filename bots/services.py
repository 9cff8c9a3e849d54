"""What a running relaydesk is made of (`Services`, which tests and the demo look inside),
and the one error a start raises when the configuration can't work."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiogram import Bot

from adapters.telegram.polling import DurablePoller
from adapters.telegram.webhook import TelegramWebhook
from bots.departments import DepartmentParts
from bots.feedback import FeedbackParts
from bots.http import HttpServer
from bots.max import MaxParts
from bots.metrics import Metrics
from bots.selfservice import SelfServiceParts
from bots.sla_jobs import SlaJobs
from bots.surge import SurgeParts
from bots.vk import VkParts
from bots.web import WebParts
from core.commands import Commands
from core.conversations.service import Conversations
from core.delivery.outbox import Outbox
from core.delivery.queue import Queue
from core.delivery.ratelimit import SlidingWindowLimiter
from core.intake.service import IntakeService
from core.lifecycle import Lifecycle
from core.ports import RateKey
from core.presses import Presses
from core.sla.clock import SlaClock
from core.sla.controls import SlaControls
from core.unit import Transactions
from storage.leadership import Leadership
from storage.store import TortoiseStore


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
    limiter: SlidingWindowLimiter | None = None  # drained before the database closes
    sla_clock: SlaClock | None = None  # a config reload swaps its policy


def rate_key(key: str, limit: object) -> RateKey:
    """A config `RateLimit` ({count, per}) as the core's RateKey named `key`."""
    count = getattr(limit, "count")  # noqa: B009 - RateLimit models, kept loosely coupled
    per = getattr(limit, "per")  # noqa: B009
    return RateKey(key, int(count), per.total_seconds())

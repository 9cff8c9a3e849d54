"""The core wired as bots/app.py wires it, for tests that drive the core directly (against
in-process platforms) instead of through the emulators."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock
from core.conversations.linking import Linking
from core.conversations.service import Conversations
from core.delivery.outbox import Outbox, OutboxSettings
from core.delivery.queue import Queue
from core.delivery.ratelimit import SlidingWindowLimiter
from core.delivery.relay import Relayer
from core.intake.service import DeskRef, IntakeService
from core.lifecycle import Lifecycle, LifecycleListener
from core.model import Message
from core.ports import Handover
from core.unit import Dispatch, Transactions

DESK_CHAT = "-1001"


@dataclass
class Recorder:
    """A Dispatch that records what committed units handed over (no outbox)."""

    lease: datetime | None = None
    woken: list[set[str] | None] = field(default_factory=list)
    adopted: list[Handover] = field(default_factory=list)
    remembered: list[Message] = field(default_factory=list)

    def birth_lease(self, target: str | None) -> datetime | None:
        return self.lease

    def remember(self, messages: list[Message]) -> None:
        self.remembered += messages

    def wake(self, targets: set[str] | None = None) -> None:
        self.woken.append(targets)

    def adopt(self, handover: Handover) -> None:
        self.adopted.append(handover)


@dataclass
class Parts:
    store: Any
    transactions: Transactions
    queue: Queue
    lifecycle: Lifecycle
    intake: IntakeService
    conversations: Conversations
    linking: Linking
    outbox: Outbox | None = None
    relayer: Relayer | None = None


def core_parts(store: Any, clock: Clock, *, dispatch: Dispatch | None = None,
               listeners: list[LifecycleListener] | None = None,
               album_wait: timedelta = timedelta(seconds=1), desk_chat: str = DESK_CHAT,
               transactions: Transactions | None = None, queue: Queue | None = None
               ) -> Parts:
    transactions = transactions or Transactions(store, clock, dispatch)
    queue = queue or Queue(store, desk_chat)
    lifecycle = Lifecycle(listeners or [])
    intake = IntakeService(store, transactions, queue, lifecycle,
                           DeskRef("telegram", desk_chat), album_wait)
    conversations = Conversations(store, transactions, queue, lifecycle)
    linking = Linking(store, transactions, queue, conversations, lifecycle)
    return Parts(store, transactions, queue, lifecycle, intake, conversations, linking)


def delivered_parts(store: Any, clock: Clock, desk: Any, channels: dict[str, Any] | None = None,
                    settings: OutboxSettings | None = None, *,
                    limiter: SlidingWindowLimiter | None = None,
                    relayer_class: type[Relayer] = Relayer, relayer_kwargs: Any = None,
                    **core: Any) -> Parts:
    """`core_parts` with the real relay and outbox behind them (not started)."""
    channels = channels or {}
    transactions = Transactions(store, clock)
    queue = Queue(store, desk.chat_id)
    relayer = relayer_class(store, clock, desk, channels, limiter or SlidingWindowLimiter(),
                            **(relayer_kwargs or {}))
    outbox = Outbox(store, transactions, queue, relayer, ["desk", *channels],
                    settings or OutboxSettings())
    parts = core_parts(store, clock, transactions=transactions, queue=queue,
                       desk_chat=desk.chat_id, **core)
    parts.outbox, parts.relayer = outbox, relayer
    return parts

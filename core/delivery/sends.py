"""What every send of the relay shares: the rate limiter around the platform call, the
chats with a send in progress (a reply to a copy waits for its link), and committing the
outcome with the copies' links."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from core.delivery import fairness
from core.delivery.ports import DeliveryStore
from core.delivery.ratelimit import SlidingWindowLimiter
from core.ports import RateKey

if TYPE_CHECKING:
    from core.delivery.relay import Step

T = TypeVar("T")


class Sends:
    def __init__(self, store: DeliveryStore, limiter: SlidingWindowLimiter) -> None:
        self._store = store
        self.limiter = limiter
        # Sends in progress per chat, set once their links are committed: a reply to a copy
        # that a person saw before its link was recorded waits for it (see
        # Relayer._reply_target).
        self.recording: dict[str, list[asyncio.Event]] = {}

    @contextlib.contextmanager
    def recorded(self, chat_id: str) -> Iterator[None]:
        """Marks a send to `chat_id` as in progress until its links are committed."""
        event = asyncio.Event()
        self.recording.setdefault(chat_id, []).append(event)
        try:
            yield
        finally:
            event.set()
            events = self.recording.get(chat_id, [])
            if event in events:
                events.remove(event)
            if not events:
                self.recording.pop(chat_id, None)

    async def limited(
        self, keys: Sequence[RateKey], n: int, call: Callable[[], Awaitable[T]],
        patience: float | None = None,
    ) -> T:
        """`call` once `n` sends to `keys` are allowed; `patience`: see
        SlidingWindowLimiter.acquire (a desk send passes Desks.patience)."""
        recorded = await self.limiter.acquire(keys, n, fairness.leave(), patience)
        try:
            return await call()
        finally:
            self.limiter.settle(keys, n, recorded)

    async def finish(
        self, step: Step, links: Sequence[tuple[str, str, Sequence[str | None]]] = ()
    ) -> None:
        copies = [
            (delivery.message_id, platform, chat_id, pid)
            for platform, chat_id, ids in links
            for delivery, pid in zip(step.deliveries, ids, strict=False)
            if pid is not None and delivery.message_id is not None
        ]
        await self._store.complete([d.id for d in step.deliveries], copies)

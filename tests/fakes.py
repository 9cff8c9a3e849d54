"""In-process stand-ins for the platforms, for tests of the outbox itself (the end-to-end
tests use the emulators instead): ports that fail the way platforms do, from a seeded
random plan, and a journal of every attempt the outbox made."""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.delivery.relay import Relayer, Step
from core.errors import NotModified, RetryAfter, TopicMissing, TransientError
from core.model import Message, Outgoing
from core.ports import RateKey
from tests.warp import WarpLoop

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class LoopClock:
    """The domain clock on the event loop's time: under a WarpLoop, a fake clock."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self._loop.time())


class Tracked:
    """A store whose calls hold the WarpLoop busy while they run (database I/O must be
    waited for in real time, or the clock would jump while an answer is on its way)."""

    def __init__(self, inner: Any, loop: WarpLoop) -> None:
        self._inner = inner
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name == "transaction":
            return lambda: _BusyTransaction(attr(), self._loop)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            with self._loop.busy():
                return await attr(*args, **kwargs)

        return call


class _BusyTransaction:
    def __init__(self, inner: Any, loop: WarpLoop) -> None:
        self._inner = inner
        self._loop = loop

    async def __aenter__(self) -> Any:
        self._loop.busy_count += 1
        try:
            return await self._inner.__aenter__()
        except BaseException:
            self._loop.busy_count -= 1
            raise

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._inner.__aexit__(*exc)
        finally:
            self._loop.busy_count -= 1


@dataclass
class Faults:
    """How often a platform call fails, and how."""

    retry_after: float = 0.0  # 429 with a pause of 1–`pause_max` s
    transient: float = 0.0  # network trouble, 5xx
    topic_missing: float = 0.0  # desk only: the topic was deleted
    not_modified: float = 0.0  # edits only
    pause_max: int = 5
    latency: float = 0.05  # seconds per call


@dataclass
class Attempt:
    started: float
    ended: float
    lane: str
    ids: list[int]
    error: str | None


@dataclass
class Journal:
    attempts: list[Attempt] = field(default_factory=list)
    topics: dict[int, list[str]] = field(default_factory=dict)  # topic -> posted texts
    sent: dict[str, list[str]] = field(default_factory=dict)  # chat -> texts


class _Port:
    def __init__(self, bucket: str, keys: Sequence[RateKey], rng: random.Random,
                 faults: Faults) -> None:
        self._bucket = bucket
        self._keys = list(keys)
        self._rng = rng
        self._faults = faults

    async def _call(self, *, edit: bool = False, topic: bool = False) -> None:
        await asyncio.sleep(self._faults.latency)
        roll, f = self._rng.random(), self._faults
        if roll < f.retry_after:
            raise RetryAfter(self._rng.randint(1, f.pause_max), self._bucket)
        roll -= f.retry_after
        if roll < f.transient:
            raise TransientError("502 Bad Gateway")
        roll -= f.transient
        if topic and roll < f.topic_missing:
            raise TopicMissing("message thread not found")
        roll -= f.topic_missing if topic else 0.0
        if edit and roll < f.not_modified:
            raise NotModified("message is not modified")

    def max_batch(self) -> int:
        return 10

    def can_batch(self, first: Outgoing, nxt: Outgoing) -> bool:
        return bool(first.message.content.media_group_id) and \
            first.message.content.media_group_id == nxt.message.content.media_group_id

    def sends_for(self, items: Sequence[Outgoing]) -> int:
        return len(items)


class ScriptedDesk(_Port):
    """The operator group: topics and posts, failing per `faults`."""

    platform, chat_id = "telegram", "-100"

    def __init__(self, rng: random.Random, faults: Faults, journal: Journal) -> None:
        super().__init__("tg:chat:-100", [RateKey("tg:chat:-100", 20, 60.0),
                                          RateKey("tg:bot", 30, 1.0)], rng, faults)
        self._journal = journal
        self._next_topic = 1000

    def rate_keys(self) -> Sequence[RateKey]:
        return self._keys

    async def create_topic(self, title: str) -> int:
        await self._call()
        self._next_topic += 1
        self._journal.topics[self._next_topic] = []
        return self._next_topic

    async def post_card(self, topic_id: int, html: str) -> str:
        await self._call(topic=True)
        self._journal.topics[topic_id].append("card")
        return "card"

    async def post(self, topic_id: int | None, items: Sequence[Outgoing]
                   ) -> Sequence[str | None]:
        await self._call(topic=True)
        posted = self._journal.topics.setdefault(topic_id or 0, [])
        posted += [item.message.content.text for item in items]
        return [f"{topic_id}:{len(posted) - len(items) + i}" for i in range(len(items))]

    async def post_html(self, topic_id: int | None, html: str) -> str:
        await self._call(topic=topic_id is not None)
        self._journal.topics.setdefault(topic_id or 0, []).append(html)
        return "html"

    async def post_photo(self, topic_id: int | None, png: bytes, caption_html: str) -> str:
        return await self.post_html(topic_id, caption_html)

    async def edit(self, topic_id: int | None, platform_message_id: str, message: Message,
                   reply_to: str | None) -> str | None:
        await self._call(edit=True, topic=True)
        return None

    async def reopen_topic(self, topic_id: int) -> None:
        await self._call()

    async def close_topic(self, topic_id: int) -> None:
        await self._call()

    async def rename_topic(self, topic_id: int, title: str) -> None:
        await self._call()


class ScriptedChannel(_Port):
    """A customer channel; `per_chat` true: each chat has its own window (Telegram),
    false: one budget for every chat (a VK community token)."""

    def __init__(self, name: str, rng: random.Random, faults: Faults, journal: Journal,
                 per_chat: bool) -> None:
        keys = [] if per_chat else [RateKey(f"{name}:token", 20, 1.0)]
        super().__init__(f"{name}:token", keys, rng, faults)
        self.name = self.platform = name
        self._per_chat = per_chat
        self._journal = journal

    def rate_keys(self, chat_id: str) -> Sequence[RateKey]:
        if self._per_chat:
            return [RateKey(f"{self.name}:chat:{chat_id}", 1, 1.0),
                    RateKey(f"{self.name}:bot", 30, 1.0)]
        return self._keys

    async def send(self, chat_id: str, items: Sequence[Outgoing]) -> Sequence[str | None]:
        await self._call()
        sent = self._journal.sent.setdefault(chat_id, [])
        sent += [item.message.content.text for item in items]
        return [f"{chat_id}:{len(sent) - len(items) + i}" for i in range(len(items))]

    async def send_text(self, chat_id: str, text: str, key: int = 0) -> str:
        await self._call()
        self._journal.sent.setdefault(chat_id, []).append(text)
        return "text"

    async def edit(self, chat_id: str, platform_message_id: str, message: Message,
                   reply_to: str | None) -> str | None:
        await self._call(edit=True)
        return None


class JournalingRelayer(Relayer):
    """The real relayer, with every step's attempt written down."""

    def __init__(self, *args: Any, journal: Journal, loop: asyncio.AbstractEventLoop,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.journal = journal
        self._loop = loop

    async def execute(self, step: Step) -> None:
        started = self._loop.time()
        error: str | None = None
        try:
            await super().execute(step)
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            self.journal.attempts.append(Attempt(
                started, self._loop.time(), step.deliveries[0].lane,
                [d.id for d in step.deliveries], error))

"""Spare operator topics: made ahead of demand while the group's budget is idle.

Creating a topic posts a service message, which Telegram counts against the group's budget
(about 20 posts a minute, all topics together) like any post. When many customers arrive
at once, a topic made on the spot costs each of them a send before anyone sees a word of
theirs; a spare made earlier costs nothing then. A conversation takes a spare as it is
(its title neutral) and the title is set later, again only while the budget is idle: a
title is a nicety, the customer's message is not.

Every group with its own budget (the operator group, each department's own forum group)
keeps its own spares: a conversation takes one in the group of its topic. A group is named
by its key: '' for the operator group (as `Conversation.desk_chat` None is), else its chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from core import texts
from core.clock import Clock
from core.delivery.ratelimit import SlidingWindowLimiter
from core.errors import NotModified, TopicClosed, TopicMissing
from core.model import Conversation
from core.ports import RateKey, Store

logger = logging.getLogger(__name__)

T = TypeVar("T")

SPARE_TITLE = "💬 New conversation"
MAIN = ""  # the operator group's key


class SpareStore(Protocol):
    """Spares per group (`chat`: the group's key; topic ids are unique per group only)."""

    async def add_spare(self, chat: str, topic_id: int, now: datetime) -> None: ...
    async def free_spares(self, chat: str) -> int: ...
    async def take_spare(self, chat: str, conversation_id: int) -> int | None:
        """The group's oldest free spare, now the conversation's (None: none is free)."""
        ...
    async def give_back_spare(self, chat: str, topic_id: int) -> None: ...
    async def spares_to_title(self, chat: str, limit: int) -> list[tuple[int, int]]:
        """Taken spares whose title is not set yet: (topic id, conversation id) each."""
        ...
    async def spare_titled(self, chat: str, topic_id: int) -> None: ...


class SpareDesk(Protocol):
    def rate_keys(self) -> Sequence[RateKey]: ...
    async def create_topic(self, title: str) -> int: ...
    async def rename_topic(self, topic_id: int, title: str) -> None: ...


def headroom(keys: Sequence[RateKey]) -> int:
    """The budget is idle while a quarter of its tightest window is still free (the same
    headroom the SLA title marks leave to deliveries)."""
    return max(1, min(k.count for k in keys) // 4 + 1)


class SpareTopics:
    def __init__(self, spares: SpareStore, store: Store, desks: Mapping[str, SpareDesk],
                 limiter: SlidingWindowLimiter, clock: Clock, wanted: int,
                 per_run: int = 3) -> None:
        """`desks`: every group with its own budget, by key (MAIN: the operator group)."""
        self._spares = spares
        self._store = store
        self._desks = dict(desks)
        self._limiter = limiter
        self._clock = clock
        self.wanted = wanted
        self._per_run = per_run
        self.made = 0  # spares created by this process (the bench and tests look)

    def group_of(self, conversation: Conversation) -> str:
        """The key of the group the conversation's topic lives in (a group no longer
        configured: the operator group, as core.delivery.desks has it)."""
        chat = conversation.desk_chat
        return chat if chat is not None and chat in self._desks else MAIN

    async def take(self, conversation: Conversation) -> Conversation:
        """The conversation with a spare topic of its group when it has none and one is
        free."""
        if conversation.topic_id is not None or self.wanted <= 0:
            return conversation
        chat = self.group_of(conversation)
        topic = await self._spares.take_spare(chat, conversation.id)
        if topic is None:
            return conversation
        kept = await self._store.claim_topic(conversation.id, topic)
        if kept != topic:  # a topic was adopted for it meanwhile (see delivery.orphans)
            await self._spares.give_back_spare(chat, topic)
        return await self._store.get_conversation(conversation.id)

    async def run(self, every: float) -> None:
        """Top up and title spares every `every` seconds until cancelled."""
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.exception("spare topics: a run failed; tried again later")
            await asyncio.sleep(every)

    async def run_once(self) -> int:
        """In every group: title taken spares, then make new ones up to `wanted`, while
        the group's budget is idle; returns the sends made."""
        sends = 0
        for chat, desk in self._desks.items():
            try:
                sends += await self._run_group(chat, desk)
            except Exception:  # one group's trouble (rights, a deleted group) is its own
                logger.exception("spare topics: the run in group %s failed", chat or "main")
        return sends

    async def _run_group(self, chat: str, desk: SpareDesk) -> int:
        keys = desk.rate_keys()
        sends = 0
        for topic, conversation_id in await self._spares.spares_to_title(chat, self._per_run):
            recorded = await self._limiter.take_if_idle(keys, headroom(keys))
            if recorded is None:
                return sends
            title = await self._title(conversation_id)
            # Nothing to change, or no topic to change: settled either way.
            with contextlib.suppress(NotModified, TopicMissing, TopicClosed):
                await self._send(keys, recorded,
                                 functools.partial(desk.rename_topic, topic, title))
            sends += 1
            await self._spares.spare_titled(chat, topic)
        while sends < self._per_run and await self._spares.free_spares(chat) < self.wanted:
            recorded = await self._limiter.take_if_idle(keys, headroom(keys))
            if recorded is None:
                break
            topic = await self._send(keys, recorded, lambda: desk.create_topic(SPARE_TITLE))
            await self._spares.add_spare(chat, topic, self._clock.now())
            self.made += 1
            sends += 1
        return sends

    async def _send(self, keys: Sequence[RateKey], recorded: float,
                    call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        finally:
            self._limiter.settle(keys, 1, recorded)

    async def _title(self, conversation_id: int) -> str:
        conversation = await self._store.get_conversation(conversation_id)
        customer, _, _ = await self._store.customer_card(conversation.customer_id)
        return texts.topic_title(customer.display_name, conversation.channel, customer.id)

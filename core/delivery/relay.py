"""Delivery execution: turn claimed outbox rows into platform calls and record the links.

Names say the direction: rows targeting the desk relay customers (and notices) into operator
topics; rows targeting a channel relay operators' answers to the customer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from core import texts
from core.clock import Clock
from core.delivery.cards import CardEdits
from core.delivery.coalesce import Coalescer, can_join
from core.delivery.desks import Desks
from core.delivery.fairness import FairBudgets
from core.delivery.first_post import FirstPosts
from core.delivery.ports import DeliveryStore
from core.delivery.ratelimit import SlidingWindowLimiter, batch_cap
from core.delivery.sends import Sends
from core.delivery.surge_relay import SurgeRelay
from core.delivery.topics import Topics
from core.errors import NotModified, RecipientUnreachable
from core.model import DESK, Action, Conversation, Delivery, Identity, Message, Outgoing
from core.ports import ChannelPort, DeskPort, RateKey, Store

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RelayStore(Store, DeliveryStore, Protocol):
    """The relay reads messages, conversations and identities, and completes rows."""

FRESH_MAX = 1024
RECORDING_WAIT = 5.0  # seconds a reply waits for the link of the copy it answers


@dataclass(slots=True)
class Step:
    """One platform call's worth of deliveries (several when the platform can batch them)."""

    deliveries: list[Delivery]
    items: list[Outgoing]
    coalesced: bool = False  # texts that go out as one post (see core.delivery.coalesce)


class Relayer:
    def __init__(
        self,
        store: RelayStore,
        clock: Clock,
        desk: DeskPort,
        channels: dict[str, ChannelPort],
        limiter: SlidingWindowLimiter,
        desks: Desks | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._desk = desk
        self.desks = desks or Desks(desk)
        self._channels = channels
        self.limiter = limiter
        self.topics = Topics(store, self.desks, limiter, clock.now)
        # One send for a new conversation (core.delivery.first_post), where the app sets it.
        self.first_posts: FirstPosts | None = None
        # Texts held while the group's budget is spent share a post, where the app sets it.
        self.coalescer: Coalescer | None = None
        # First-timers first at each group's budget under pressure, where the app sets it.
        self.fair: FairBudgets | None = None
        self.cards: CardEdits | None = None  # cards rendered again (EDIT_CARD), app-set
        self.sends = Sends(store, limiter)  # the limiter, sends in progress, outcomes
        # Messages intake just committed, so relaying one needs no read (bounded; a row
        # relayed by another process simply reads it).
        self._fresh: dict[int, Message] = {}
        # What intake read in the statement that created a delivery born claimed, by
        # delivery id: the conversation (desk side) or the customer's identity (channel).
        self._context: dict[int, Conversation | Identity] = {}

    def prefetch(self, delivery_id: int, context: Conversation | Identity | None) -> None:
        """Keep what the first attempt of a delivery would read (used once: a retry reads
        the database again, since a failure may be what changed it)."""
        if context is None:
            return
        self._context[delivery_id] = context
        while len(self._context) > FRESH_MAX:
            del self._context[next(iter(self._context))]

    def remember(self, messages: Sequence[Message]) -> None:
        for message in messages:
            self._fresh[message.id] = message
        while len(self._fresh) > FRESH_MAX:
            del self._fresh[next(iter(self._fresh))]

    # ---- planning --------------------------------------------------------------------

    async def plan(self, claimed: Sequence[Delivery], pressed: bool = False) -> list[Step]:
        """Group consecutive relays the platform can send in one call (albums, bursts);
        `pressed`: the lane waited for the group's budget (see _coalesce)."""
        steps: list[Step] = []
        for delivery in claimed:
            item = await self._outgoing(delivery) if delivery.action is Action.RELAY else None
            last = steps[-1] if steps else None
            if (
                item is not None and last is not None and last.items
                and last.deliveries[-1].action is Action.RELAY
                and len(last.items) < self._cap(delivery)
                and self._port_can_batch(delivery.target, last.items[-1], item)
            ):
                last.deliveries.append(delivery)
                last.items.append(item)
                continue
            steps.append(Step([delivery], [item] if item is not None else []))
        if self.coalescer is None or self.fair is None or not claimed \
                or claimed[0].target != DESK:
            return steps
        wanted = sum(len(s.items) for s in steps)
        if wanted < 2:
            return steps
        fair = await self.fair.of(claimed[0].conversation_id)
        # Under pressure (the lane waited for its group's budget, the group's window is or
        # was just full, or can't take these posts now) the texts share a post.
        if pressed or fair.pressed() or self.limiter.delay(fair.keys, wanted) > 0:
            return self._coalesce(steps)
        return steps

    @staticmethod
    def _coalesce(steps: list[Step]) -> list[Step]:
        """Consecutive texts of the customer (a desk lane's steps) share one post."""
        joined: list[Step] = []
        for step in steps:
            last = joined[-1] if joined else None
            if not can_join(step.deliveries, step.items):
                joined.append(step)
            elif last is not None and last.coalesced:
                last.deliveries += step.deliveries
                last.items += step.items
            else:
                joined.append(Step(list(step.deliveries), list(step.items), coalesced=True))
        for index, step in enumerate(joined):
            if step.coalesced and len(step.items) == 1:  # alone after all: as it was
                joined[index] = Step(step.deliveries, step.items)
        return joined

    def _cap(self, delivery: Delivery) -> int:
        if delivery.target == DESK:
            return batch_cap(self._desk.rate_keys(), self._desk.max_batch())
        channel = self._channels[delivery.target]
        return batch_cap(channel.rate_keys(delivery.chat_id), channel.max_batch())

    def _port_can_batch(self, target: str, first: Outgoing, nxt: Outgoing) -> bool:
        if target == DESK:
            return self._desk.can_batch(first, nxt)
        return self._channels[target].can_batch(first, nxt)

    async def _outgoing(self, delivery: Delivery) -> Outgoing:
        assert delivery.message_id is not None
        message = self._fresh.pop(delivery.message_id, None)
        if message is None:
            message = await self._store.get_message(delivery.message_id)
        target = await self._reply_target(message)
        return Outgoing(message, await self._copy_in(target, delivery.chat_id), delivery.id)

    async def _reply_target(self, message: Message) -> int | None:
        """The canonical message replied to; mapped again now if intake could not (the
        author replied to a copy whose link was not committed yet)."""
        if message.reply_to_id is not None or not message.reply_ref or message.source is None:
            return message.reply_to_id
        source = message.source
        link = await self._store.find_link(source.platform, source.chat_id, message.reply_ref)
        pending = self.sends.recording.get(source.chat_id)
        if link is None and pending:
            # A person can answer a copy in the milliseconds between the platform showing it
            # and its link being committed; wait for the sends to that chat in progress here.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(e.wait() for e in list(pending))),
                                       RECORDING_WAIT)
            link = await self._store.find_link(source.platform, source.chat_id,
                                               message.reply_ref)
        return link.message_id if link else None

    async def _copy_in(self, message_id: int | None, chat_id: str) -> str | None:
        """The platform id of `message_id` (original or copy) in `chat_id`, for threading."""
        if message_id is None:
            return None
        for link in await self._store.links_of(message_id):
            if link.chat_id == chat_id:
                return link.platform_message_id
        if self.coalescer is not None and self.desks.is_desk_chat(chat_id):
            part = await self.coalescer.store.part_post(message_id)  # no link of its own
            return part[0] if part else None
        return None

    # ---- execution -------------------------------------------------------------------

    async def execute(self, step: Step) -> None:
        """Make the platform call(s) for one step and commit the outcome. Raises DeliveryError."""
        first = step.deliveries[0]
        if first.target == DESK:
            await self._to_desk(step)
        else:
            await self._to_channel(step)

    async def _to_desk(self, step: Step) -> None:
        first = step.deliveries[0]
        if first.action is Action.TEXT:
            await self._bot_post(step)
            return
        if first.action is Action.DELETE_TOPIC:
            await self.topics.delete_orphan(first.orphan_topic, first.chat_id)
            await self.sends.finish(step)
            return
        assert first.conversation_id is not None
        if first.action is Action.CLOSE_TOPIC and first.body.get("topic_id"):
            # A topic the conversation moved away from, in its own group.
            left, old = int(first.body["topic_id"]), self.desks.by_chat(first.chat_id)
            await self.sends.limited(old.rate_keys(), 1, lambda: old.close_topic(left),
                                     self.desks.patience)
            await self.sends.finish(step)
            return
        known = self._context.pop(first.id, None)
        conversation = known if isinstance(known, Conversation) else \
            await self._store.get_conversation(first.conversation_id)
        desk = self.desks.of(conversation)
        keys = desk.rate_keys()
        if first.action in (Action.CLOSE_TOPIC, Action.REOPEN_TOPIC):
            if conversation.topic_id is not None:
                topic = conversation.topic_id
                change = desk.close_topic if first.action is Action.CLOSE_TOPIC \
                    else desk.reopen_topic
                await self.sends.limited(keys, 1, lambda: change(topic), self.desks.patience)
            await self.sends.finish(step)
            return
        if first.action is Action.EDIT_CARD:
            shared = await self._card_edit(step, conversation, desk, keys)
            if shared is None:
                return
            step, first = shared, shared.deliveries[0]
        posts = self.first_posts
        if step.coalesced:
            await self._surge().coalesced(step, conversation)
            return
        if first.action is Action.RELAY and posts is not None:
            conversation, plan = await posts.plan(conversation, step.items)
            if plan is not None:
                await self._surge().first_post(step, conversation, plan)
                return
        topic_id = await self.topics.ensure(conversation)
        if first.action is Action.EDIT and await self._surge().coalesced_edit(step, conversation,
                                                                      topic_id):
            return
        if first.action is Action.EDIT:
            call: Callable[[str, Message, str | None], Awaitable[str | None]] = \
                functools.partial(desk.edit, topic_id)
            if posts is not None and await posts.carries_card(first):
                # The post is the card too: the card is rendered again with the new version.
                call = functools.partial(posts.edit, topic_id, conversation)
            await self._edit(step, desk.chat_id, desk.platform, call,
                             lambda o: self._repost_desk(desk, topic_id, o), keys)
            return
        with self.sends.recorded(desk.chat_id):
            ids = await self.sends.limited(keys, desk.sends_for(step.items),
                                           lambda: desk.post(topic_id, step.items),
                                           self.desks.patience)
            await self.sends.finish(step, [(desk.platform, desk.chat_id, ids)])

    async def _bot_post(self, step: Step) -> None:
        first = step.deliveries[0]
        desk = self.desks.by_chat(first.chat_id)  # the General topic of its group
        keys = desk.rate_keys()
        post = first.desk_post()
        if post.png:  # a chart (the daily report): a base64 PNG, the HTML is its caption
            image = base64.b64decode(post.png)
            await self.sends.limited(keys, 1, lambda: desk.post_photo(post.topic_id, image,
                                                                      post.html),
                                     self.desks.patience)
        else:
            await self.sends.limited(keys, 1, lambda: desk.post_html(post.topic_id, post.html),
                                     self.desks.patience)
        await self.sends.finish(step)

    async def _card_edit(self, step: Step, conversation: Conversation, desk: DeskPort,
                         keys: Sequence[RateKey]) -> Step | None:
        """Render the card again (core.delivery.cards); a card sharing the first post: the
        step that edits that post as an edit of its message."""
        shared = None if self.cards is None else await self.cards.edit(
            conversation, desk,
            lambda call: self.sends.limited(keys, 1, call, self.desks.patience))
        if shared is None:
            await self.sends.finish(step)
            return None
        return Step([replace(step.deliveries[0], action=Action.EDIT, message_id=shared)], [])

    def _surge(self) -> SurgeRelay:
        """Surge handling's posts (core.delivery.surge_relay), with what they share."""
        return SurgeRelay(self._store, self._clock, self.desks, self.topics, self.sends,
                          self.first_posts, self.coalescer)

    async def _to_channel(self, step: Step) -> None:
        first = step.deliveries[0]
        channel = self._channels[first.target]
        keys = channel.rate_keys(first.chat_id)
        if first.action is Action.TEXT:
            text, choices = first.customer_text(), first.customer_choices()
            await self.sends.limited(
                keys, 1, lambda: channel.send_text(first.chat_id, text, first.id, choices)
            )
            await self.sends.finish(step)
            return
        known = self._context.pop(first.id, None)
        identity = known if isinstance(known, Identity) else \
            await self._store.find_identity_by_chat(first.target, first.chat_id)
        if identity is not None and not identity.reachable:
            raise RecipientUnreachable("the customer can't be reached (blocked or denied)")
        if first.action is Action.EDIT:
            await self._edit(step, first.chat_id, channel.platform,
                             lambda pid, m, r: channel.edit(first.chat_id, pid, m, r),
                             lambda o: channel.send(first.chat_id, [o]), keys)
            return
        with self.sends.recorded(first.chat_id):
            ids = await self.sends.limited(
                keys, channel.sends_for(step.items),
                lambda: channel.send(first.chat_id, step.items)
            )
            await self.sends.finish(step, [(channel.platform, first.chat_id, ids)])

    async def _edit(
        self,
        step: Step,
        chat_id: str,
        platform: str,
        call: Callable[[str, Message, str | None], Awaitable[str | None]],
        repost: Callable[[Outgoing], Awaitable[Sequence[str | None]]],
        keys: Sequence[RateKey],
    ) -> None:
        first = step.deliveries[0]
        assert first.message_id is not None
        message = await self._store.get_message(first.message_id)
        # The newest copy: an edit that could not be made in place posted a newer one.
        copy = next(
            (link for link in reversed(await self._store.links_of(message.id))
             if link.chat_id == chat_id and not link.is_origin),
            None,
        )
        if copy is None and self.desks.is_desk_chat(chat_id) and any(
                not link.is_origin and self.desks.is_desk_chat(link.chat_id)
                for link in await self._store.links_of(message.id)):
            # Its copy is in a topic the conversation moved away from (/transfer): the
            # new version goes to the conversation's topic now.
            with self.sends.recorded(chat_id):
                ids = await self.sends.limited(keys, 2, lambda: repost(
                    Outgoing(message, None, first.id)), self.desks.patience)
                await self.sends.finish(step, [(platform, chat_id, ids[-1:])])
            return
        if copy is None:  # never relayed (e.g. it failed for good): nothing to edit
            await self.sends.finish(step)
            return
        patience = self.desks.patience if self.desks.is_desk_chat(chat_id) else None
        if first.file_replaced:
            # No platform edits a copy into another file: the new version is posted as a
            # reply to the copy it replaces.
            outgoing = Outgoing(message, copy.platform_message_id, first.id)
            units = 1 + self._desk.sends_for([outgoing]) \
                if self.desks.is_desk_chat(chat_id) else 1
            with self.sends.recorded(chat_id):
                ids = await self.sends.limited(keys, units, lambda: repost(outgoing),
                                               patience)
                await self.sends.finish(step, [(platform, chat_id, ids[-1:])])
            return
        reply_to = await self._copy_in(await self._reply_target(message), chat_id)
        try:
            new_id = await self.sends.limited(
                keys, 1, lambda: call(copy.platform_message_id, message, reply_to), patience
            )
        except NotModified:
            new_id = None
        await self.sends.finish(step, [(platform, chat_id, [new_id])] if new_id else [])

    @staticmethod
    async def _repost_desk(desk: DeskPort, topic_id: int, outgoing: Outgoing
                           ) -> Sequence[str | None]:
        """Operators see who changed what: a marked notice, then the new version."""
        message = outgoing.message
        await desk.post_html(topic_id, texts.render(
            "edited", name=message.author_name or "Customer", text=""))
        return await desk.post(topic_id, [outgoing])

"""Surge handling's posts into a topic (see core.delivery.first_post and coalesce): the card
and a conversation's first message in one post, a run of held texts in one post, and an
edit of a part of such a post. The Relayer hands a step here when surge handling is on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.clock import Clock
from core.delivery.coalesce import EDIT_WINDOW, Coalescer
from core.delivery.desks import Desks
from core.delivery.first_post import FirstPost, FirstPosts
from core.delivery.sends import Sends
from core.delivery.topics import Topics
from core.errors import NotModified
from core.model import Conversation
from core.ports import Store

if TYPE_CHECKING:
    from core.delivery.relay import Step


class SurgeRelay:
    def __init__(self, store: Store, clock: Clock, desks: Desks, topics: Topics,
                 sends: Sends, first_posts: FirstPosts | None,
                 coalescer: Coalescer | None) -> None:
        """Every post goes into the group of the conversation's topic (`desks.of`)."""
        self._store = store
        self._clock = clock
        self._desks = desks
        self._topics = topics
        self._sends = sends
        self._first_posts = first_posts
        self._coalescer = coalescer

    async def first_post(self, step: Step, conversation: Conversation, plan: FirstPost
                          ) -> None:
        """The card and the conversation's first message in one post (see first_post)."""
        posts, desk = self._first_posts, self._desks.of(conversation)
        assert posts is not None
        poster = posts.desk_of(conversation)
        with self._sends.recorded(desk.chat_id):
            post_id = await self._sends.limited(desk.rate_keys(), plan.sends, lambda: poster
                                          .post_first(plan.topic_id, plan.card, plan.item))
            await posts.posted(conversation, plan.item)
            await self._sends.finish(step, [(desk.platform, desk.chat_id, [post_id])])

    async def coalesced(self, step: Step, conversation: Conversation) -> None:
        """One post for a run of texts; the card on top when it is the topic's first."""
        coalescer, posts = self._coalescer, self._first_posts
        assert coalescer is not None
        card = None
        if posts is not None and not conversation.card_posted:
            conversation, topic = await posts.topic(conversation)
            card = await self._topics.card(conversation)
        else:
            topic = await self._topics.ensure(conversation)
        items, desk = step.items, self._desks.of(conversation)
        poster = coalescer.desk_of(conversation)
        labels = coalescer.labels([i.message for i in items])
        sends = poster.coalesced_sends(card, items, labels) or len(items)
        with self._sends.recorded(desk.chat_id):
            ids = await self._sends.limited(desk.rate_keys(), sends, lambda: poster
                                      .post_coalesced(topic, card, items, labels))
            if card is not None and posts is not None:
                await posts.posted(conversation, items[0])
            for post_id in dict.fromkeys(ids):
                await coalescer.store.add_parts(
                    conversation.id, post_id,
                    [i.message.id for i, p in zip(items, ids, strict=True) if p == post_id],
                    self._clock.now())
            coalescer.posts += len(set(ids))
            # A post is linked to its last part: an operator's reply to it answers that.
            last = [p if p != (ids[n + 1] if n + 1 < len(ids) else None) else None
                    for n, p in enumerate(ids)]
            await self._sends.finish(step, [(desk.platform, desk.chat_id, last)])

    async def coalesced_edit(self, step: Step, conversation: Conversation,
                              topic_id: int) -> bool:
        """An edit of a part of a coalesced post renders the post again (past Telegram's
        edit window, a marked correction answers it). False: not such a part."""
        first, coalescer = step.deliveries[0], self._coalescer
        if coalescer is None or first.message_id is None or first.file_replaced:
            return False
        part = await coalescer.store.part_post(first.message_id)
        if part is None:
            return False
        post_id, posted_at = part
        ids = await coalescer.store.post_parts(conversation.id, post_id)
        messages = [await self._store.get_message(i) for i in ids]
        card = None
        if self._first_posts is not None and ids and await self._first_posts.is_first(ids[0]):
            card = await self._topics.card(conversation)
        labels = coalescer.labels(messages)
        desk, poster = self._desks.of(conversation), coalescer.desk_of(conversation)
        keys, new_id = desk.rate_keys(), None
        try:
            fits = self._clock.now() - posted_at < EDIT_WINDOW and await self._sends.limited(
                keys, 1, lambda: poster.edit_coalesced(post_id, card, messages, labels))
        except NotModified:
            fits = True
        if not fits:
            edited = messages[ids.index(first.message_id)]
            label = coalescer.labels([edited])[0]
            with self._sends.recorded(desk.chat_id):
                new_id = await self._sends.limited(keys, 1, lambda: poster.post_correction(
                    topic_id, post_id, edited, label))
        await self._sends.finish(step, [(desk.platform, desk.chat_id, [new_id])] if new_id else [])
        return True

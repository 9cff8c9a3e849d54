"""The race between a retry creating a topic and the adoption of the topic whose answer was
lost, played step by step on the real store (SQLite and PostgreSQL) with a scripted desk."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core import texts
from core.clock import FrozenClock
from core.delivery.orphans import OrphanTopics, TopicFate
from core.delivery.queue import Queue
from core.delivery.ratelimit import SlidingWindowLimiter
from core.delivery.relay import Relayer
from core.model import DESK, Action, Conversation, Profile
from core.unit import Transactions
from storage.database import close_database, open_database
from storage.store import TortoiseStore
from tests.parts import Recorder

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DESK_CHAT = "-1001"


class ScriptedDesk:
    """Topics and posts in memory; `meanwhile` runs inside the next createForumTopic call,
    as an update handled while the call is in flight would."""

    platform, chat_id = "telegram", DESK_CHAT

    def __init__(self) -> None:
        self.topics: dict[int, list[str]] = {}
        self.deleted: list[int] = []
        self.meanwhile: Callable[[], Any] | None = None

    def rate_keys(self) -> list[Any]:
        return []

    async def create_topic(self, title: str) -> int:
        if self.meanwhile is not None:
            work, self.meanwhile = self.meanwhile, None
            await work()
        topic = 100 + len(self.topics)
        self.topics[topic] = []
        return topic

    async def post_card(self, topic_id: int, html: str) -> str:
        self.topics[topic_id].append("card")
        return "1"

    async def delete_topic(self, topic_id: int) -> None:
        self.deleted.append(topic_id)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[TortoiseStore]:
    handle = await open_database(db_url, apply_migrations=False)
    try:
        yield TortoiseStore()
    finally:
        await close_database(handle)


async def _conversation(store: TortoiseStore, user: str = "1") -> Conversation:
    identity, customer, _ = await store.upsert_identity(
        "telegram", user, user, Profile("Anna", None, "en"), NOW)
    return await store.create_conversation(customer.id, "telegram", identity.id, None, NOW)


def _title(conversation: Conversation) -> str:
    return texts.topic_title("Anna", "telegram", conversation.customer_id)


async def test_claim_topic_stores_a_topic_only_where_none_is(store: TortoiseStore) -> None:
    conversation = await _conversation(store)
    assert await store.claim_topic(conversation.id, 7) == 7
    assert await store.claim_topic(conversation.id, 7) == 7  # the same one again: fine
    assert await store.claim_topic(conversation.id, 8) == 7  # first wins
    await store.mark_card_posted(conversation.id)
    assert (await store.get_conversation(conversation.id)).card_posted  # not reset by a loss
    await store.forget_topic(7)  # deleted by hand: the next topic may be stored
    assert await store.claim_topic(conversation.id, 9) == 9


def _orphans(store: TortoiseStore, clock: FrozenClock, dispatch: Recorder | None = None
             ) -> OrphanTopics:
    return OrphanTopics(store, Transactions(store, clock, dispatch or Recorder()),
                        Queue(store, DESK_CHAT))


async def test_an_adoption_during_the_retrys_create_wins_and_the_new_topic_is_deleted(
    store: TortoiseStore,
) -> None:
    conversation = await _conversation(store)
    desk, clock = ScriptedDesk(), FrozenClock(NOW)
    woken = Recorder()
    orphans = _orphans(store, clock, woken)
    relayer = Relayer(store, clock, desk, {}, SlidingWindowLimiter())  # type: ignore[arg-type]
    lost = 50  # the first attempt's topic: made by Telegram, its answer never arrived
    desk.topics[lost] = []
    fates: list[TopicFate] = []

    async def lost_topics_update() -> None:
        fates.append(await orphans.topic_created(lost, _title(conversation)))

    desk.meanwhile = lost_topics_update  # handled while the retry's create is in flight
    assert await relayer.topics.ensure(conversation) == lost
    assert fates == [TopicFate.ADOPTED]
    [made] = set(desk.topics) - {lost}
    assert desk.topics[made] == [] and desk.topics[lost] == ["card"]  # card where it stays
    stored = await store.get_conversation(conversation.id)
    assert stored.topic_id == lost and stored.card_posted

    # The retry's topic reports in: an orphan, its deletion queued in the conversation's lane.
    assert await orphans.topic_created(made, _title(conversation)) is TopicFate.ORPHAN
    assert await orphans.topic_created(lost, _title(conversation)) is TopicFate.KNOWN
    assert woken.woken == [{DESK}]
    [row] = await store.claim_heads(NOW, 10, set(), None, DESK)
    assert row.action is Action.DELETE_TOPIC and row.lane == f"desk:{conversation.id}"
    for step in await relayer.plan([row]):
        await relayer.execute(step)
    assert desk.deleted == [made]
    assert await store.count_deliveries() == 1  # done


async def test_a_queued_deletion_spares_a_topic_a_conversation_took_since(
    store: TortoiseStore,
) -> None:
    conversation = await _conversation(store)
    other = await _conversation(store, "2")
    desk, clock = ScriptedDesk(), FrozenClock(NOW)
    orphans = _orphans(store, clock)
    relayer = Relayer(store, clock, desk, {}, SlidingWindowLimiter())  # type: ignore[arg-type]
    await store.claim_topic(conversation.id, 60)
    assert await orphans.topic_created(61, _title(conversation)) is TopicFate.ORPHAN
    await store.claim_topic(other.id, 61)  # however unlikely: checked again before deleting
    [row] = await store.claim_heads(NOW, 10, set(), None, DESK)
    for step in await relayer.plan([row]):
        await relayer.execute(step)
    assert desk.deleted == []


async def test_titles_that_name_no_customer_of_ours_are_left_alone(
    store: TortoiseStore,
) -> None:
    await _conversation(store)
    orphans = _orphans(store, FrozenClock(NOW))
    assert await orphans.topic_created(70, "Refunds") is TopicFate.FOREIGN
    assert await orphans.topic_created(71, "Bob · TG · #999") is TopicFate.FOREIGN
    assert await store.count_deliveries() == 0

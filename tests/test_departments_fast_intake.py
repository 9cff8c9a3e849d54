"""PostgreSQL's one-statement intake with departments' groups (migration 0021): it stays on,
finds an operator's topic within its own group (a topic id is unique only there), and hands
the relay the conversation's department and group, as the general path would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import FrozenClock
from core.delivery.queue import Queue
from core.intake.service import DeskRef, IntakeService, Outcome
from core.lifecycle import Lifecycle
from core.model import Content, InboundCustomerMessage, InboundOperatorMessage, Profile
from core.unit import Transactions
from storage.database import close_database, open_database
from tests.dbs import PgDatabase
from tests.parts import Recorder
from tests.test_fast_intake import CountingStore

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DESK_CHAT, TECH_CHAT, TOPIC = "-1001", "-1002", 500


@pytest.fixture
async def pg_url(pg_database: PgDatabase) -> AsyncIterator[str]:
    handle = await open_database(await pg_database.fresh(), apply_migrations=False)
    try:
        yield pg_database.url
    finally:
        await close_database(handle)


def _customer(user: str, mid: str, text: str) -> InboundCustomerMessage:
    return InboundCustomerMessage("telegram", user, user, mid, Profile(f"C{user}", None, "en"),
                                  Content("text", text), NOW, None)


def _operator(chat: str, mid: str, text: str) -> InboundOperatorMessage:
    return InboundOperatorMessage("telegram", chat, TOPIC, mid, "7", "Olga",
                                  Content("text", text), NOW, None)


async def test_one_topic_id_in_two_groups_each_answer_reaches_its_own_customer(
        pg_url: str) -> None:
    store, clock = CountingStore(fast=True), FrozenClock(NOW)
    handoff = Recorder(lease=NOW + timedelta(seconds=30))
    queue = Queue(store, DESK_CHAT)
    intake = IntakeService(store, Transactions(store, clock, handoff), queue, Lifecycle([]),
                           DeskRef("telegram", DESK_CHAT, frozenset({TECH_CHAT})),
                           timedelta(seconds=1))
    # Two customers whose topics have the same id: one in the operator group, one in tech's.
    await intake.relay_customer_to_desk(_customer("41", "1", "hi"))
    await intake.relay_customer_to_desk(_customer("42", "1", "hello"))
    rows = await store._raw("SELECT id, customer_id FROM conversation ORDER BY id", [])
    main, tech = rows[0]["id"], rows[1]["id"]
    for conversation in (main, tech):
        await store.set_topic(conversation, TOPIC)
    await store.change_conversation(tech, {"department": "tech", "desk_chat": TECH_CHAT})
    # First answers (the general path: they assign and stop the clock), then more.
    for chat in (DESK_CHAT, TECH_CHAT):
        await intake.relay_operator_to_customer(_operator(chat, f"{chat}:1", "first"))
    assert store.fast_hits == 0
    for chat in (TECH_CHAT, DESK_CHAT):
        result = await intake.relay_operator_to_customer(_operator(chat, f"{chat}:2", chat))
        assert result.outcome is Outcome.STORED
    assert store.fast_hits == 2
    answers = await store._raw(
        "SELECT m.conversation_id, m.content, d.chat_id FROM message m"
        " JOIN delivery d ON d.message_id = m.id WHERE m.source_message_id LIKE '%:2'"
        " ORDER BY m.id", [])
    # Each answer went to the customer of its own group's topic 500.
    assert [(r["conversation_id"], r["chat_id"]) for r in answers] == [(tech, "42"),
                                                                      (main, "41")]
    # A customer of tech writes again while waiting: one statement, and the relay is told
    # the group (it posts there without reading the conversation).
    await intake.relay_customer_to_desk(_customer("42", "2", "first wait"))
    result = await intake.relay_customer_to_desk(_customer("42", "3", "still here"))
    assert result.outcome is Outcome.STORED and store.fast_hits == 3
    fast = await store.fast_customer_message(_customer("42", "4", "and"), NOW, DESK_CHAT, None)
    assert fast is not None and fast.conversation is not None
    assert (fast.conversation.department, fast.conversation.desk_chat) == ("tech", TECH_CHAT)

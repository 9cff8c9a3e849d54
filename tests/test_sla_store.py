"""The SLA clock and sweep on SQLite and PostgreSQL with an injected clock (no sleeping):
a human reply stops the clock and a note does not; reminders and breaches fire exactly once
per deadline, also across a restart between the deadline and the sweep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.clock import FrozenClock
from core.conversations.service import Conversations
from core.delivery.queue import Queue
from core.intake.service import IntakeService
from core.model import (
    Action,
    Content,
    InboundCustomerMessage,
    InboundOperatorMessage,
    Profile,
)
from core.sla.clock import SlaClock
from core.sla.controls import SlaControls
from core.sla.hours import WorkingHours
from core.sla.policy import AckSettings, ChannelPolicy, SlaPolicy, Targets
from core.sla.sweep import SlaSweeper
from core.unit import Transactions
from storage.database import close_database, open_database
from storage.sla import TortoiseSlaStore
from storage.store import TortoiseStore
from tests.parts import Recorder, core_parts

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday 12:00 Moscow
DESK_CHAT = "-1001234567890"
HOURS = WorkingHours.parse("Europe/Moscow", {"mon-fri": "09:00-18:00"})
POLICY = SlaPolicy(
    default=ChannelPolicy(HOURS, Targets(timedelta(hours=1), timedelta(minutes=30),
                                         timedelta(days=1)), timedelta(minutes=15)),
    ack=AckSettings(default_language="en"), on_duty=(42,), admins=(7,),
)


@dataclass
class Rig:
    clock: FrozenClock
    store: TortoiseStore
    sla: TortoiseSlaStore
    intake: IntakeService
    sweeper: SlaSweeper
    controls: SlaControls
    conversations: Conversations
    seq: int = 0

    async def customer(self, text: str, user: str = "1", lang: str = "en") -> int:
        self.seq += 1
        result = await self.intake.relay_customer_to_desk(InboundCustomerMessage(
            "telegram", user, user, str(self.seq), Profile("Anna", None, lang),
            Content("text", text), self.clock.now()))
        assert result.conversation_id is not None
        conv = await self.store.get_conversation(result.conversation_id)
        if conv.topic_id is None:
            await self.store.set_topic(conv.id, 500 + conv.id)
        return result.conversation_id

    async def operator(self, conversation_id: int, text: str, note: bool = False) -> None:
        self.seq += 1
        conv = await self.store.get_conversation(conversation_id)
        assert conv.topic_id is not None
        inbound = InboundOperatorMessage("telegram", DESK_CHAT, conv.topic_id, str(self.seq),
                                         "77", "Olga", Content("text", text), self.clock.now())
        if note:
            await self.intake.add_note(inbound)
        else:
            await self.intake.relay_operator_to_customer(inbound)

    async def texts(self, target: str = "desk") -> list[str]:
        """Bot-authored texts queued so far: General posts and notices, or customer texts."""
        rows = await self.store._raw(
            "SELECT d.action, d.body, d.message_id FROM delivery d WHERE d.target = ?"
            " ORDER BY d.id", [target])
        out = []
        for r in rows:
            body = r["body"] if isinstance(r["body"], dict) else __import__("json").loads(
                r["body"])
            if r["action"] == str(Action.TEXT):
                out.append(body.get("html") or body.get("text"))
            elif r["message_id"] is not None:
                msg = await self.store.get_message(r["message_id"])
                if msg.kind == "system":
                    out.append(msg.content.text)
        return out

    async def breaches(self) -> int:
        rows = await self.store._raw("SELECT COUNT(*) AS n FROM sla_breach", [])
        return int(rows[0]["n"])


def _rig(clock: FrozenClock) -> Rig:
    store, sla = TortoiseStore(), TortoiseSlaStore()
    transactions = Transactions(store, clock, Recorder())
    queue = Queue(store, DESK_CHAT)
    parts = core_parts(store, clock, transactions=transactions, queue=queue,
                       listeners=[SlaClock(sla, POLICY, queue)])
    sweeper = SlaSweeper(sla, transactions, queue, POLICY)
    controls = SlaControls(store, sla, transactions, queue, POLICY)
    return Rig(clock, store, sla, parts.intake, sweeper, controls, parts.conversations)


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[Rig]:
    handle = await open_database(db_url, apply_migrations=False)
    try:
        yield _rig(FrozenClock(START))
    finally:
        await close_database(handle)


def reminders(texts: list[str]) -> list[str]:
    return [t for t in texts if t.startswith("⏰")]


def escalations(texts: list[str]) -> list[str]:
    return [t for t in texts if t.startswith("🚨")]


async def test_reminder_then_breach_each_exactly_once(rig: Rig) -> None:
    conv = await rig.customer("hello")
    assert (await rig.sweeper.sweep()).reminded == 0
    rig.clock.advance(timedelta(minutes=46))  # reminder due at 45 min
    assert (await rig.sweeper.sweep()).reminded == 1
    assert (await rig.sweeper.sweep()).reminded == 0  # nothing twice
    [reminder] = reminders(await rig.texts())
    assert 'tg://user?id=42' in reminder and "First response is due in 14 minutes" in reminder
    rig.clock.advance(timedelta(minutes=15))
    result = await rig.sweeper.sweep()
    assert (result.reminded, result.breached) == (0, 1)
    assert (await rig.sweeper.sweep()).breached == 0
    [post] = escalations(await rig.texts())
    assert 'tg://user?id=7' in post and f"https://t.me/c/1234567890/{500 + conv}" in post
    assert "first response" in post
    assert await rig.breaches() == 1


async def test_acknowledgement_once_and_not_after_a_live_answer(rig: Rig) -> None:
    conv = await rig.customer("hello")
    await rig.customer("anyone?")
    assert await rig.texts("telegram") == [
        "Thanks for your message! An operator will reply within 1 hour."]
    await rig.operator(conv, "hi!")
    rig.clock.advance(timedelta(minutes=2))
    await rig.customer("thanks, one more thing")  # next-response clock, but mid-chat
    assert len(await rig.texts("telegram")) == 1  # plus the relayed answer below
    rig.clock.advance(timedelta(days=1))
    await rig.operator(conv, "done?")
    rig.clock.advance(timedelta(hours=1))
    await rig.customer("not yet", lang="ru")
    acks = [t for t in await rig.texts("telegram") if t and t.startswith(("Thanks", "Спасибо"))]
    # The next-response target (30 min) is what the customer is promised this time.
    assert acks[1:] == ["Спасибо за сообщение! Оператор ответит в течение 30 минут."]


async def test_a_human_reply_stops_the_clock_and_a_note_does_not(rig: Rig) -> None:
    conv = await rig.customer("hello")
    await rig.operator(conv, "internal remark", note=True)
    rig.clock.advance(timedelta(hours=1, minutes=1))
    assert (await rig.sweeper.sweep()).breached == 1  # the note did not stop it
    conv2 = await rig.customer("hello", user="2")
    await rig.operator(conv2, "hi Bob")
    rig.clock.advance(timedelta(hours=2))
    assert (await rig.sweeper.sweep()).breached == 0  # the human answer did
    # The answered customer writes again: a next-response clock (30 min) starts.
    await rig.customer("and another thing", user="2")
    rig.clock.advance(timedelta(minutes=31))
    result = await rig.sweeper.sweep()
    assert result.breached == 1
    posts = escalations(await rig.texts())
    assert "next response" in posts[-1]


async def test_restart_between_deadline_and_sweep_fires_once(db_url: str) -> None:
    clock = FrozenClock(START)
    handle = await open_database(db_url, apply_migrations=False)
    await _rig(clock).customer("hello")
    await close_database(handle)  # the bot is down while the deadline passes
    clock.advance(timedelta(hours=3))
    handle = await open_database(db_url, apply_migrations=False)
    try:
        rig = _rig(clock)
        result = await rig.sweeper.sweep()
        # Past the deadline the reminder makes no sense any more: only the breach.
        assert (result.reminded, result.breached) == (0, 1)
    finally:
        await close_database(handle)
    handle = await open_database(db_url, apply_migrations=False)  # and once more
    try:
        rig = _rig(clock)
        assert (await rig.sweeper.sweep()).breached == 0
        assert await rig.breaches() == 1
        assert len(escalations(await rig.texts())) == 1
    finally:
        await close_database(handle)


async def test_concurrent_sweeps_fire_once(rig: Rig) -> None:
    for user in range(5):
        await rig.customer("hello", user=str(user))
    rig.clock.advance(timedelta(minutes=50))
    other = _rig(rig.clock)
    results = await asyncio.gather(rig.sweeper.sweep(), other.sweeper.sweep(),
                                   rig.sweeper.sweep())
    assert sum(r.reminded for r in results) == 5
    rig.clock.advance(timedelta(minutes=20))
    results = await asyncio.gather(rig.sweeper.sweep(), other.sweeper.sweep())
    assert sum(r.breached for r in results) == 5
    assert len(reminders(await rig.texts())) == 5
    assert await rig.breaches() == 5


async def test_outside_hours_the_clock_waits_for_opening(rig: Rig) -> None:
    rig.clock.advance(timedelta(hours=10))  # Thursday 22:00 Moscow
    await rig.customer("late question")
    assert (await rig.texts("telegram"))[0].endswith("tomorrow from 09:00 (Moscow time).")
    rig.clock.advance(timedelta(hours=10))  # Friday 08:00: still before the deadline
    assert (await rig.sweeper.sweep()).breached == 0
    rig.clock.advance(timedelta(hours=2, minutes=1))  # Friday 10:01
    assert (await rig.sweeper.sweep()).breached == 1


async def test_snooze_postpones_reminders_and_close_settles_everything(rig: Rig) -> None:
    conv = await rig.customer("hello")
    await rig.controls.snooze(500 + conv, "Olga", "3h")
    rig.clock.advance(timedelta(hours=2))
    assert (await rig.sweeper.sweep()).breached == 0
    rig.clock.advance(timedelta(hours=1, minutes=1))
    assert (await rig.sweeper.sweep()).breached == 1  # the target itself was still missed
    assert any(t.startswith("💤") for t in await rig.texts())
    conv2 = await rig.customer("hi", user="2")
    await rig.conversations.close_topic(500 + conv2, "77", "Olga")
    rig.clock.advance(timedelta(days=3))
    assert (await rig.sweeper.sweep()).breached == 0
    assert await rig.conversations.reopen(500 + conv2, "Olga")
    assert not await rig.conversations.reopen(500 + conv2, "Olga")  # already open


async def test_take_and_report(rig: Rig) -> None:
    conv = await rig.customer("hello")
    await rig.conversations.take(500 + conv, "77", "Olga")
    assert (await rig.store.get_conversation(conv)).assignee_id == "77"
    rig.clock.advance(timedelta(minutes=10))
    await rig.operator(conv, "hi")
    html = await rig.controls.report("today")
    assert "Conversations: 1" in html and "median 10 minutes" in html
    assert "SLA hit rate: 100% (1/1)" in html and "Olga" in html
    assert "Use <code>/report today</code>" in await rig.controls.report("year")


async def test_digest_lists_overdue_conversations(rig: Rig) -> None:
    assert await rig.sweeper.digest() == 0
    await rig.customer("hello")
    rig.clock.advance(timedelta(hours=2))
    await rig.sweeper.sweep()
    assert await rig.sweeper.digest() == 1
    assert any(t.startswith("⏳ 1 conversation waiting") for t in await rig.texts())


class FakeDesk:
    """Only what TitleKeeper uses of a DeskPort."""

    def __init__(self) -> None:
        self.renames: list[tuple[int, str]] = []

    def rate_keys(self) -> list[Any]:
        from core.ports import RateKey

        return [RateKey("group", 20, 60.0)]

    async def rename_topic(self, topic_id: int, title: str) -> None:
        self.renames.append((topic_id, title))


async def test_topic_title_marks_are_debounced_and_yield_to_deliveries(rig: Rig) -> None:
    from core.delivery.ratelimit import SlidingWindowLimiter
    from core.sla.titles import TitleKeeper

    desk, limiter = FakeDesk(), SlidingWindowLimiter()
    keeper = TitleKeeper(rig.sla, desk, limiter, rig.clock)  # type: ignore[arg-type]
    conv = await rig.customer("hello")
    assert await keeper.run() == 0  # the status must hold still for 30 s first
    rig.clock.advance(timedelta(seconds=31))
    assert await keeper.run() == 1
    assert desk.renames == [(500 + conv, "🟡 Anna · TG · #1")]
    assert await keeper.run() == 0  # applied: nothing more to do
    # An answer and a new question inside the debounce window: no rename at all.
    await rig.operator(conv, "hi")
    rig.clock.advance(timedelta(seconds=10))
    await rig.customer("one more")
    rig.clock.advance(timedelta(seconds=31))
    assert await keeper.run() == 0 and len(desk.renames) == 1
    # Overdue: red, but only while the group's window has headroom.
    rig.clock.advance(timedelta(minutes=31))
    assert (await rig.sweeper.sweep()).breached == 1
    rig.clock.advance(timedelta(seconds=31))
    limiter.record(desk.rate_keys(), 16)  # deliveries used most of the window
    assert await keeper.run() == 0
    other = TitleKeeper(rig.sla, desk, SlidingWindowLimiter(), rig.clock)  # type: ignore[arg-type]
    assert await other.run() == 1
    assert desk.renames[-1] == (500 + conv, "🔴 Anna · TG · #1")
    await rig.conversations.close_topic(500 + conv, "77", "Olga")
    rig.clock.advance(timedelta(minutes=5))
    assert await other.run() == 0


async def test_restart_inside_the_reminder_window_reminds_once(db_url: str) -> None:
    clock = FrozenClock(START)
    handle = await open_database(db_url, apply_migrations=False)
    await _rig(clock).customer("hello")
    await close_database(handle)
    clock.advance(timedelta(minutes=50))  # down while the reminder came due
    for expected in (1, 0):
        handle = await open_database(db_url, apply_migrations=False)
        try:
            rig = _rig(clock)
            assert (await rig.sweeper.sweep()).reminded == expected
            assert len(reminders(await rig.texts())) == 1
        finally:
            await close_database(handle)

"""A poller's run of one chat's updates and the flood's held messages (core/intake/held.py),
in process on SQLite and PostgreSQL: held messages wait in the run and are stored together
when it settles, in the order they came, each once (a re-delivered batch stores nothing
twice); what follows them in the run waits for them; a message that can't be stored is
named by its update and the others are still stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.abuse.flood import SLOW_DOWN, Flood, FloodSettings
from core.clock import FrozenClock
from core.delivery.queue import Queue
from core.intake.held import Unsettled
from core.intake.ports import NewMessage
from core.intake.service import IntakeService, Outcome
from core.model import Content, InboundCustomerMessage, Message, Profile
from core.unit import Transactions
from storage.abuse import TortoiseAbuseStore
from storage.database import close_database, open_database
from storage.store import TortoiseStore
from tests.parts import Recorder, core_parts

START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DESK_CHAT = "-1001"


class FailingStore(TortoiseStore):
    """Refuses to store many messages at once, and any message whose text is "poison"."""

    async def add_customer_messages(self, conversation_id: int, items: Sequence[NewMessage],
                                    now: datetime) -> list[Message]:
        raise RuntimeError("the database refused the batch")

    async def add_message(self, conversation_id: int, kind: Any, author_id: str | None,
                          author_name: str | None, content: Content, *args: Any,
                          **kwargs: Any) -> Message:
        if content.text == "poison":
            raise RuntimeError("the database refused this message")
        return await super().add_message(conversation_id, kind, author_id, author_name,
                                          content, *args, **kwargs)


@dataclass
class Rig:
    clock: FrozenClock
    store: TortoiseStore
    intake: IntakeService

    def message(self, number: int, text: str | None = None) -> InboundCustomerMessage:
        return InboundCustomerMessage("telegram", "42", "42", str(number),
                                      Profile("Flo", None, "en"),
                                      Content("text", text or f"flood {number}"),
                                      self.clock.now())

    async def rows(self, sql: str) -> list[Any]:
        return await self.store._raw(sql, [])

    async def stored(self) -> list[str]:
        """The customer's messages' platform ids, in the order of their ids."""
        return [r["source_message_id"] for r in await self.rows(
            "SELECT source_message_id FROM message WHERE kind = 'customer' ORDER BY id")]

    async def held(self) -> list[str]:
        """The held messages' platform ids, in the order of their events."""
        return [r["source_message_id"] for r in await self.rows(
            "SELECT m.source_message_id FROM abuse_event e JOIN message m"
            " ON m.id = e.message_id WHERE e.kind = 'held' ORDER BY e.id")]

    async def relayed(self) -> list[str]:
        return [r["source_message_id"] for r in await self.rows(
            "SELECT m.source_message_id FROM delivery d JOIN message m ON m.id = d.message_id"
            " WHERE d.action = 'relay' ORDER BY d.id")]

    async def slow_down_notices(self) -> int:
        rows = await self.rows("SELECT body FROM delivery WHERE target = 'telegram'")
        return sum(SLOW_DOWN["en"] in str(r["body"]) for r in rows)


def _rig(store: TortoiseStore) -> Rig:
    clock = FrozenClock(START)
    transactions = Transactions(store, clock, Recorder())
    queue = Queue(store, DESK_CHAT)
    flood = Flood(TortoiseAbuseStore(), store, queue, transactions,
                  FloodSettings(max_messages=2, per=timedelta(seconds=10)))
    parts = core_parts(store, clock, transactions=transactions, queue=queue,
                       listeners=[flood], desk_chat=DESK_CHAT)
    return Rig(clock, store, parts.intake)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[None]:
    handle = await open_database(db_url, apply_migrations=False)
    try:
        yield
    finally:
        await close_database(handle)


async def _take(rig: Rig, run: Any, numbers: range) -> list[Outcome]:
    outcomes = []
    for number in numbers:
        run.tag = number
        outcomes.append((await rig.intake.relay_customer_to_desk(rig.message(number))).outcome)
    return outcomes


async def test_held_messages_are_stored_together_in_order_and_once(database: None) -> None:
    rig = _rig(TortoiseStore())
    with rig.intake.held_run() as run:
        outcomes = await _take(rig, run, range(1, 7))
        assert outcomes == [Outcome.STORED] * 2 + [Outcome.PENDING] * 4
        assert await rig.stored() == ["1", "2"]  # the rest waits in the run
        await run.settle()
    assert await rig.stored() == ["1", "2", "3", "4", "5", "6"]
    assert await rig.held() == ["3", "4", "5", "6"]
    assert await rig.relayed() == ["1", "2"]
    assert await rig.slow_down_notices() == 1

    # The batch again (its offset was never confirmed), with one new message.
    with rig.intake.held_run() as run:
        assert await _take(rig, run, range(1, 8)) == [Outcome.PENDING] * 7
        await run.settle()
    assert await rig.stored() == ["1", "2", "3", "4", "5", "6", "7"]
    assert await rig.held() == ["3", "4", "5", "6", "7"]
    assert await rig.slow_down_notices() == 1


async def test_what_follows_in_the_run_waits_for_the_held_messages(database: None) -> None:
    rig = _rig(TortoiseStore())
    with rig.intake.held_run() as run:
        assert await _take(rig, run, range(1, 5)) == [Outcome.STORED] * 2 + [
            Outcome.PENDING] * 2
        rig.clock.advance(timedelta(seconds=11))  # the flood is over
        assert await _take(rig, run, range(5, 6)) == [Outcome.STORED]
        assert not run.pending
    assert await rig.stored() == ["1", "2", "3", "4", "5"]
    assert await rig.held() == ["3", "4"]
    assert await rig.relayed() == ["1", "2", "5"]


async def test_a_message_that_cannot_be_stored_is_named(database: None) -> None:
    rig = _rig(FailingStore())
    for number in (1, 2):  # under the limit, outside a run: stored
        await rig.intake.relay_customer_to_desk(rig.message(number))
    with rig.intake.held_run() as run:
        for number, text in ((3, None), (4, "poison"), (5, None)):
            run.tag = number
            await rig.intake.relay_customer_to_desk(rig.message(number, text))
        with pytest.raises(Unsettled) as failed:
            await run.settle()
        assert failed.value.tag == 4  # the one before it is stored, it and the next wait
        assert await rig.stored() == ["1", "2", "3"]
        assert run.pending
        run.drop(4)  # the poller gives up on the update
        await run.settle()
    assert await rig.stored() == ["1", "2", "3", "5"]
    assert await rig.held() == ["3", "5"]

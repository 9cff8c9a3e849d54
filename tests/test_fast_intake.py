"""PostgreSQL's one-statement intake (migration 0004) against intake's general path.

The functions are a second implementation of intake's common cases, so the proof is that
they store exactly what the general path stores for the same updates, that they decline
everything else, and that a delivery is born claimed only into an empty lane.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.clock import FrozenClock
from core.intake.service import IntakeService, Outcome
from core.model import (
    Content,
    InboundCustomerMessage,
    InboundOperatorMessage,
    Profile,
)
from core.ports import DuplicateError, Handover
from storage.database import close_database, open_database
from storage.store import TortoiseStore
from tests.dbs import PgDatabase
from tests.parts import Recorder, core_parts, delivered_parts

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
DESK_CHAT, TOPIC = "-1001", 500
ANNA = Profile("Anna <b>&<3", "anna", "en")


class CountingStore(TortoiseStore):
    """TortoiseStore that counts the updates its one-statement path took (or is told
    not to have one: intake's general path on the same database)."""

    def __init__(self, fast: bool) -> None:
        super().__init__()
        self._fast_on = fast
        self.fast_hits = 0

    @property
    def fast_intake(self) -> bool:
        return self._fast_on and super().fast_intake

    async def fast_customer_message(self, *args: Any, **kwargs: Any) -> Handover | None:
        result = await super().fast_customer_message(*args, **kwargs)
        self.fast_hits += result is not None
        return result

    async def fast_operator_message(self, *args: Any, **kwargs: Any) -> Handover | None:
        result = await super().fast_operator_message(*args, **kwargs)
        self.fast_hits += result is not None
        return result


class Handoff(Recorder):
    """The outbox's side of intake's hand-off, recorded (a lease always on offer)."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__(lease=clock.now() + LEASE)


@pytest.fixture
async def pg_url(pg_database: PgDatabase) -> AsyncIterator[str]:
    handle = await open_database(await pg_database.fresh(), apply_migrations=False)
    try:
        yield pg_database.url
    finally:
        await close_database(handle)


def _intake(store: TortoiseStore, clock: FrozenClock, handoff: Handoff) -> IntakeService:
    return core_parts(store, clock, dispatch=handoff, desk_chat=DESK_CHAT).intake


def _customer(mid: str, text: str, reply: str | None = None, profile: Profile = ANNA,
              group: str | None = None, user: str = "42") -> InboundCustomerMessage:
    return InboundCustomerMessage("telegram", user, user, mid, profile,
                                  Content("text", text, media_group_id=group), NOW, reply)


def _operator(mid: str, text: str, reply: str | None = None) -> InboundOperatorMessage:
    return InboundOperatorMessage("telegram", DESK_CHAT, TOPIC, mid, "7", "Olga <i>",
                                  Content("text", text), NOW, reply)


async def _script(store: CountingStore, clock: FrozenClock) -> list[Outcome]:
    """One customer's conversation: every common case and the ones next to it."""
    intake = _intake(store, clock, Handoff(clock))
    outcomes = []

    async def customer(*args: Any, **kwargs: Any) -> None:
        outcomes.append((await intake.relay_customer_to_desk(_customer(*args, **kwargs))).outcome)
        clock.advance(timedelta(seconds=1))

    async def operator(*args: Any) -> None:
        outcomes.append((await intake.relay_operator_to_customer(_operator(*args))).outcome)
        clock.advance(timedelta(seconds=1))

    await customer("1", "hi")  # new customer: general
    await customer("2", "again")  # waiting already: fast
    [conversation] = await store._raw("SELECT id FROM conversation", [])
    await store.set_topic(conversation["id"], TOPIC)
    await operator("d1", "hello")  # first answer (assigns, stops the wait): general
    await operator("d2", "more")  # fast
    await operator("d3", "as I said", "d1")  # fast, threaded to the operator's own message
    await operator("d4", "to you", "nope")  # fast, the reply kept to be mapped at send time
    await customer("3", "back", "x1")  # the wait starts again: general
    await customer("4", "and", "1")  # fast, threaded to the customer's first message
    await customer("4", "and", "1")  # re-delivered: a duplicate either way
    await customer("5", "renamed", profile=Profile("Anna S", "anna", "en"))  # general
    await customer("6", "album part", group="g1")  # albums: general
    await customer("7", "5000 chars " + "x" * 4990)  # fast
    return outcomes


async def _dump(store: TortoiseStore) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "customer": "SELECT display_name, language FROM customer ORDER BY id",
        "identity": "SELECT customer_id, channel, user_id, chat_id, username, link, reachable"
                    " FROM identity ORDER BY id",
        "conversation": "SELECT customer_id, channel, status, topic_id, card_posted,"
                        " reply_identity_id, assignee_id, opened_at, first_response_at,"
                        " waiting_since, closed_at, open_key, acked_at, answered_at"
                        " FROM conversation ORDER BY id",
        "message": "SELECT conversation_id, kind, author_id, author_name, content,"
                   " source_platform, source_chat_id, source_message_id, reply_to_id,"
                   " reply_ref, created_at, edited_at FROM message ORDER BY id",
        "message_link": "SELECT message_id, platform, chat_id, platform_message_id, is_origin"
                        " FROM message_link ORDER BY id",
        # status and lease: a row born claimed is what a claim would have made of it
        "delivery": "SELECT lane, target, chat_id, action, message_id, conversation_id,"
                    " attempts, due_us, group_key, body, created_at FROM delivery ORDER BY id",
    }
    # Message ids by position: a refused duplicate may spend a sequence value on one path.
    ids = await store._raw("SELECT id FROM message ORDER BY id", [])
    position = {r["id"]: n for n, r in enumerate(ids)}
    dump = {}
    for name, sql in tables.items():
        dump[name] = [
            tuple(position.get(v) if k in ("message_id", "reply_to_id") and v else v
                  for k, v in r.items())
            for r in await store._raw(sql, [])
        ]
    return dump


async def test_the_fast_path_stores_what_the_general_path_stores(
    pg_url: str, pg_database: PgDatabase
) -> None:
    general = CountingStore(fast=False)
    general_outcomes = await _script(general, FrozenClock(NOW))
    expected = await _dump(general)
    await pg_database.truncate()
    fast = CountingStore(fast=True)
    fast_outcomes = await _script(fast, FrozenClock(NOW))
    assert fast_outcomes == general_outcomes
    assert general_outcomes.count(Outcome.DUPLICATE) == 1
    assert (general.fast_hits, fast.fast_hits) == (0, 6)
    got = await _dump(fast)
    for table, rows in expected.items():
        assert got[table] == rows, table
    assert len(got["message"]) == 11


async def test_a_delivery_is_born_claimed_only_into_an_empty_lane(pg_url: str) -> None:
    store, clock = TortoiseStore(), FrozenClock(NOW)
    handoff = Handoff(clock)
    intake = _intake(store, clock, handoff)
    await intake.relay_customer_to_desk(_customer("1", "hi"))  # a new conversation's lane
    await intake.relay_customer_to_desk(_customer("2", "again"))
    assert [f.message.content.text for f in handoff.adopted] == ["hi"]  # "again" waits
    await store.complete([d["id"] for d in await store._raw("SELECT id FROM delivery", [])])
    await intake.relay_customer_to_desk(_customer("3", "now"))
    born = handoff.adopted[-1]
    assert born.claimed and born.delivery.more is False and born.message.content.text == "now"
    assert born.conversation is not None and born.conversation.waiting_since is not None
    rows = await store._raw("SELECT status, lease_us FROM delivery WHERE id = ?",
                            [born.delivery.id])
    assert rows[0]["status"] == "sending" and rows[0]["lease_us"] is not None
    await intake.relay_customer_to_desk(_customer("4", "and"))  # behind the one in flight
    assert len(handoff.adopted) == 2
    # the dispatcher never takes a lane that has a row in flight, even behind a pending one
    assert await store.claim_heads(NOW, 10, set(), NOW + LEASE, "desk") == []


async def test_no_lease_means_nothing_is_born_claimed(pg_url: str) -> None:
    store = TortoiseStore()
    await store.upsert_identity("telegram", "42", "42", ANNA, NOW)
    intake = _intake(store, FrozenClock(NOW), Handoff(FrozenClock(NOW)))
    await intake.relay_customer_to_desk(_customer("1", "hi"))
    await store.complete([d["id"] for d in await store._raw("SELECT id FROM delivery", [])])
    result = await store.fast_customer_message(_customer("2", "x"), NOW, DESK_CHAT, None)
    assert result is not None and not result.claimed
    assert result.delivery.status == "pending"


async def test_concurrent_writers_of_one_lane_never_both_claim_it(pg_url: str) -> None:
    store, clock = TortoiseStore(), FrozenClock(NOW)
    intake = _intake(store, clock, Handoff(clock))
    await intake.relay_customer_to_desk(_customer("1", "hi"))
    await store.complete([d["id"] for d in await store._raw("SELECT id FROM delivery", [])])
    results = await asyncio.gather(*(
        store.fast_customer_message(_customer(str(n), "x"), NOW, DESK_CHAT, NOW + LEASE)
        for n in range(2, 14)
    ))
    assert all(r is not None for r in results)
    assert sum(r.claimed for r in results if r is not None) == 1


async def test_the_fast_path_declines_what_is_not_its_case(pg_url: str) -> None:
    store, clock = TortoiseStore(), FrozenClock(NOW)
    intake = _intake(store, clock, Handoff(clock))
    lease = NOW + LEASE
    # unknown customer, and a customer with no conversation waiting
    assert await store.fast_customer_message(_customer("1", "x"), NOW, DESK_CHAT, lease) is None
    await intake.relay_customer_to_desk(_customer("1", "hi"))
    identity = await store.find_identity("telegram", "42")
    assert identity is not None
    await store.set_reachable(identity.id, False)  # blocked us: the general path unblocks
    assert await store.fast_customer_message(_customer("2", "x"), NOW, DESK_CHAT, lease) is None
    await intake.relay_customer_to_desk(_customer("2", "x"))
    assert (await store.get_identity(identity.id)).reachable
    # a re-delivered update is a duplicate to the function too (and nothing is written)
    with pytest.raises(DuplicateError):
        await store.fast_customer_message(_customer("2", "x"), NOW, DESK_CHAT, lease)
    # an operator in a topic of no conversation, and before the first answer
    assert await store.fast_operator_message(_operator("d1", "x"), NOW, True, lease) is None
    [conversation] = await store._raw("SELECT id FROM conversation", [])
    await store.set_topic(conversation["id"], TOPIC)
    assert await store.fast_operator_message(_operator("d1", "x"), NOW, True, lease) is None
    rows = await store._raw("SELECT COUNT(*) AS n FROM message", [])
    assert rows[0]["n"] == 2


class RecordingDesk:
    """A DeskPort that records what it posts and can hold a post until released."""

    platform, chat_id = "telegram", DESK_CHAT

    def __init__(self) -> None:
        self.posted: list[str] = []
        self.topics: dict[int, list[str]] = {}
        self.hold = asyncio.Event()
        self.hold.set()
        self.entered = asyncio.Event()

    async def create_topic(self, title: str) -> int:
        topic = 1000 + len(self.topics)
        self.topics[topic] = []
        return topic

    async def post_card(self, topic_id: int, html: str) -> str:
        self.topics[topic_id].append("card")
        return "card"

    def rate_keys(self) -> list[Any]:
        return []

    def max_batch(self) -> int:
        return 1

    def can_batch(self, first: Any, nxt: Any) -> bool:
        return False

    def sends_for(self, items: Any) -> int:
        return len(items)

    async def post(self, topic_id: int | None, items: Any) -> list[str | None]:
        self.entered.set()
        await self.hold.wait()
        await asyncio.sleep(0)  # a platform call yields to the loop
        self.posted += [item.message.content.text for item in items]
        if topic_id in self.topics:
            self.topics[topic_id] += [item.message.content.text for item in items]
        return [f"c{len(self.posted)}"]


async def test_the_outbox_runs_adopted_rows_in_order_and_releases_them_when_stopping(
    pg_url: str,
) -> None:
    from core.delivery.outbox import OutboxSettings

    store, clock, desk = TortoiseStore(), FrozenClock(NOW), RecordingDesk()
    parts = delivered_parts(store, clock, desk, settings=OutboxSettings(exclusive=False,
                                                                        lease=LEASE))
    outbox, relayer, intake = parts.outbox, parts.relayer, parts.intake
    assert outbox is not None and relayer is not None
    # the conversation and its topic first (queued for the dispatcher: no hand-off yet)
    await intake.relay_customer_to_desk(_customer("1", "one"))
    [conversation] = await store._raw("SELECT id FROM conversation", [])
    await store.set_topic(conversation["id"], TOPIC)
    await store.mark_card_posted(conversation["id"])
    # nothing is born claimed before run() has freed what a previous stop left in flight
    assert outbox.birth_lease("desk") is None
    runner = asyncio.create_task(outbox.run())
    try:
        await _until(lambda: desk.posted == ["one"])
        assert outbox.birth_lease("desk") is not None
        await _until_done(store, 1)
        desk.hold.clear()  # the next post waits
        await intake.relay_customer_to_desk(_customer("2", "two"))  # born claimed
        await desk.entered.wait()
        # The lane's row done in the database while its task still runs (the moment between
        # a row's completion and the lane's next look): a row born claimed now is adopted
        # by that task, and runs before what was queued after it.
        await store.complete([d["id"] for d in await store._raw("SELECT id FROM delivery", [])])
        born = await store.fast_customer_message(_customer("4", "four"), NOW, DESK_CHAT,
                                                 NOW + LEASE)
        assert born is not None and born.claimed
        relayer.remember([born.message])
        outbox.adopt(born)
        await intake.relay_customer_to_desk(_customer("5", "five"))  # pending behind it
        desk.hold.set()
        await _until(lambda: len(desk.posted) == 4)
        assert desk.posted == ["one", "two", "four", "five"]
        await _until_done(store, 4)
    finally:
        await outbox.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert outbox.birth_lease(None) is None  # stopping: nothing more is born claimed
    await store.complete([d["id"] for d in await store._raw("SELECT id FROM delivery", [])])
    late = await store.fast_customer_message(_customer("6", "six"), NOW, DESK_CHAT,
                                             NOW + LEASE)
    assert late is not None and late.claimed
    outbox.adopt(late)  # came in while stopping: released for whoever runs next
    await _until_status(store, late.delivery.id, "pending")


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 5 s")


async def _until(condition: Callable[[], bool]) -> None:
    async def check() -> bool:
        return condition()

    await _eventually(check)


async def _until_done(store: TortoiseStore, n: int) -> None:
    async def check() -> bool:
        rows = await store._raw("SELECT COUNT(*) AS n FROM delivery WHERE status = 'done'", [])
        return bool(rows[0]["n"] >= n)

    await _eventually(check)


async def _until_status(store: TortoiseStore, delivery_id: int, status: str) -> None:
    async def check() -> bool:
        rows = await store._raw("SELECT status FROM delivery WHERE id = ?", [delivery_id])
        return bool(rows[0]["status"] == status)

    await _eventually(check)


async def test_the_general_path_gives_rows_born_claimed(db_url: str) -> None:
    """A conversation started in the transaction has an empty lane on every database; on
    SQLite intake's transaction also looks at an existing lane (one writer at a time: the
    look and the insert are atomic), where PostgreSQL's general path queues the row."""
    handle = await open_database(db_url, apply_migrations=False)
    try:
        store, clock = TortoiseStore(), FrozenClock(NOW)
        handoff = Handoff(clock)
        intake = _intake(store, clock, handoff)
        await intake.relay_customer_to_desk(_customer("1", "hi"))
        await intake.relay_customer_to_desk(_customer("2", "album", group="g"))
        await intake.relay_customer_to_desk(_customer("3", "behind"))
        rows = await store._raw("SELECT status, lease_us FROM delivery ORDER BY id", [])
        [born] = handoff.adopted
        assert born.delivery.status == "sending" and born.message.content.text == "hi"
        assert born.conversation is not None and born.conversation.waiting_since == NOW
        assert [r["status"] for r in rows] == ["sending", "pending", "pending"]
        assert rows[0]["lease_us"] is not None  # released at the next start if we die
        await store.complete([r["id"] for r in await store._raw("SELECT id FROM delivery", [])])
        # the general path on an existing conversation (a changed profile)
        await intake.relay_customer_to_desk(
            _customer("4", "renamed", profile=Profile("Anna S", "anna", "en")))
        rows = await store._raw("SELECT status FROM delivery ORDER BY id DESC LIMIT 1", [])
        sqlite = db_url.startswith("sqlite")
        assert rows[0]["status"] == ("sending" if sqlite else "pending")
        assert len(handoff.adopted) == (2 if sqlite else 1)
    finally:
        await close_database(handle)


async def test_two_processes_on_one_database_keep_every_lane_in_order(pg_url: str) -> None:
    """Two relays (say one for Telegram, one for VK) write into the same conversations'
    lanes and deliver from one PostgreSQL database: rows born claimed, queued rows and the
    dispatchers' claims together still deliver each message once, in order."""
    from core.delivery.outbox import OutboxSettings

    clock, desk = FrozenClock(NOW), RecordingDesk()
    processes, adopted = [], [0, 0]
    for p in range(2):
        store = TortoiseStore()
        parts = delivered_parts(store, clock, desk,
                                settings=OutboxSettings(exclusive=False, lease=LEASE, workers=3))
        outbox, intake = parts.outbox, parts.intake
        assert outbox is not None
        processes.append((intake, outbox))

        def counted(fast: Handover, p: int = p, adopt: Any = outbox.adopt) -> None:
            adopted[p] += 1
            adopt(fast)

        outbox.adopt = counted  # type: ignore[method-assign]
    runners = [asyncio.create_task(outbox.run()) for _, outbox in processes]

    async def customer(n: int) -> None:
        for k in range(12):  # each message through the other process
            intake = processes[k % 2][0]
            await intake.relay_customer_to_desk(
                _customer(f"{n}-{k}", f"{n}:{k}", user=str(100 + n)))
            if n % 2:  # half the customers wait for each answer: their lanes run dry
                await _until(lambda text=f"{n}:{k}": text in desk.posted)  # type: ignore[misc]

    try:
        await asyncio.gather(*(customer(n) for n in range(8)))
        await _until(lambda: len(desk.posted) == 8 * 12)
        await asyncio.sleep(0.2)  # nothing more comes
    finally:
        for _, outbox in processes:
            await outbox.stop()
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
    assert len(desk.posted) == 8 * 12 == len(set(desk.posted))
    assert all(adopted) and sum(adopted) < 8 * 12  # both paths: born claimed and queued
    assert len(desk.topics) == 8
    for posts in desk.topics.values():
        n = posts[1].split(":")[0]
        assert posts == ["card", *(f"{n}:{k}" for k in range(12))]

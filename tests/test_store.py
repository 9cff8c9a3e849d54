"""TortoiseStore contract: the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.model import Action, DeliveryStatus, Profile
from core.ports import DuplicateError
from storage.database import close_database, open_database
from storage.store import TortoiseStore
from tests.dbs import PgDatabase

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=5)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[TortoiseStore]:
    handle = await open_database(db_url, apply_migrations=False)
    try:
        yield TortoiseStore()
    finally:
        await close_database(handle)


async def _customer(store: TortoiseStore, user: str = "1") -> tuple[int, int]:
    identity, customer, created = await store.upsert_identity(
        "telegram", user, user, Profile("Anna <b>", "anna", "en"), NOW
    )
    assert created
    return identity.id, customer.id


async def test_one_open_conversation_per_customer_is_a_database_rule(store: TortoiseStore) -> None:
    identity, customer = await _customer(store)
    first = await store.create_conversation(customer, "telegram", identity, None, NOW)
    with pytest.raises(DuplicateError):
        async with store.transaction():
            await store.create_conversation(customer, "telegram", identity, None, NOW)
    await store.close_conversation(first.id, NOW)
    second = await store.create_conversation(customer, "telegram", identity, 77, NOW)
    assert second.topic_id == 77 and second.card_posted  # an inherited topic has its card
    assert (await store.open_conversation(customer)).id == second.id  # type: ignore[union-attr]


async def test_identity_is_unique_and_profile_updates(store: TortoiseStore) -> None:
    await _customer(store)
    identity, customer, created = await store.upsert_identity(
        "telegram", "1", "1", Profile("Anna S", "anna2", "ru"), NOW
    )
    assert not created and customer.display_name == "Anna S" and customer.language == "ru"
    assert identity.username == "anna2"


async def test_message_link_is_unique(store: TortoiseStore) -> None:
    identity, customer = await _customer(store)
    conv = await store.create_conversation(customer, "telegram", identity, None, NOW)
    from core.model import Content, MessageKind

    msg = await store.add_message(conv.id, MessageKind.CUSTOMER, "1", "Anna",
                                  Content("text", "hi"), None, None, NOW)
    await store.add_link(msg.id, "telegram", "1", "10", True)
    with pytest.raises(DuplicateError):
        async with store.transaction():
            await store.add_link(msg.id, "telegram", "1", "10", True)
    link = await store.find_link("telegram", "1", "10")
    assert link is not None and link.message_id == msg.id and link.is_origin


async def _enqueue(store: TortoiseStore, lane: str, n: int, due: datetime = NOW) -> list[int]:
    return [
        await store.enqueue(lane=lane, target="desk", chat_id="-1001", action=Action.RELAY,
                            now=NOW, not_before=due)
        for _ in range(n)
    ]


async def test_claims_are_fifo_per_lane(store: TortoiseStore) -> None:
    a = await _enqueue(store, "desk:1", 3)
    b = await _enqueue(store, "desk:2", 2)
    heads = await store.claim_heads(NOW, 10, set(), LEASE, "desk")
    assert [h.id for h in heads] == [a[0], b[0]]  # one head per lane
    # while a lane's head is being sent, nobody else may claim that lane
    assert await store.claim_heads(NOW, 10, set(), LEASE, "desk") == []
    if store._pg:  # nor claim rows behind it (under the lane's lock, with a fresh look)
        assert (await store.claim_next("desk:1", NOW, 10, LEASE)).rows == []
    more = await store.claim_next("desk:1", NOW, 10, LEASE, after_id=a[0], held=[a[0]])
    assert [d.id for d in more.rows] == a[1:] and more.next_due is None
    assert await store.claim_heads(NOW, 10, set(), LEASE, "customer") == []


async def test_a_row_not_yet_due_holds_back_its_lane(store: TortoiseStore) -> None:
    later = await _enqueue(store, "desk:1", 1, NOW + timedelta(seconds=5))
    await _enqueue(store, "desk:1", 1)
    assert await store.claim_heads(NOW, 10, set(), LEASE, "desk") == []
    # the second row is due but waits behind the first: the outbox wakes for the head
    assert await store.next_due_at() == NOW + timedelta(seconds=5)
    assert await store.next_due_at({"desk:1"}) is None  # a lane in flight wakes nobody
    heads = await store.claim_heads(NOW + timedelta(seconds=5), 10, set(), LEASE, "desk")
    assert [h.id for h in heads] == later


async def test_reschedule_release_and_stale_leases(store: TortoiseStore) -> None:
    ids = await _enqueue(store, "desk:1", 2)
    [head] = await store.claim_heads(NOW, 10, set(), LEASE, "desk")
    await store.reschedule(head.id, NOW + timedelta(seconds=30), "429", attempts=0)
    assert await store.claim_heads(NOW, 10, set(), LEASE, "desk") == []
    [again] = await store.claim_heads(NOW + timedelta(seconds=30), 10, set(), LEASE, "desk")
    assert again.id == ids[0] and again.last_error == "429"
    # a crashed sender's lease expires and the row is due again
    assert await store.release_stale(LEASE + timedelta(seconds=1)) == 1
    await store.finish(ids[0], DeliveryStatus.DONE)
    [nxt] = await store.claim_heads(NOW, 10, set(), LEASE, "desk")
    assert nxt.id == ids[1]
    assert await store.count_deliveries(DeliveryStatus.DONE) == 1


async def test_album_parts_are_postponed_together(store: TortoiseStore) -> None:
    ids = [
        await store.enqueue(lane="desk:1", target="desk", chat_id="-1", action=Action.RELAY,
                            now=NOW, group_key="g", not_before=NOW + timedelta(seconds=1))
        for _ in range(3)
    ]
    await store.postpone_group("desk:1", "g", NOW + timedelta(seconds=2))
    assert await store.claim_heads(NOW + timedelta(seconds=1), 5, set(), LEASE, "desk") == []
    [head] = await store.claim_heads(NOW + timedelta(seconds=2), 5, set(), LEASE, "desk")
    rest = await store.claim_next("desk:1", NOW + timedelta(seconds=2), 10, LEASE,
                                  after_id=head.id, held=[head.id])
    assert [head.id, *[d.id for d in rest.rows]] == ids


@pytest.mark.parametrize("exclusive", [True, False])
async def test_a_lane_that_finds_nothing_due_says_when_its_next_row_is(
    store: TortoiseStore, exclusive: bool
) -> None:
    """A text is being sent while an album's parts are queued behind it, due later: the
    lane's claim after the text takes nothing and names the album's due time, which the
    dispatcher could not see while the lane ran."""
    lease = None if exclusive else LEASE
    [text] = await _enqueue(store, "desk:1", 1)
    later = NOW + timedelta(seconds=1)
    await store.enqueue(lane="desk:1", target="desk", chat_id="-1", action=Action.RELAY,
                        now=NOW, group_key="g", not_before=later)
    [head] = await store.claim_heads(NOW, 5, set(), lease, "desk")
    assert head.id == text
    await store.complete([text])
    claim = await store.claim_next("desk:1", NOW, 10, lease, after_id=text)
    assert claim.rows == [] and claim.next_due == later
    await store.postpone_group("desk:1", "g", NOW)  # now due: taken, nothing left behind
    claim = await store.claim_next("desk:1", NOW, 10, lease, after_id=text)
    assert len(claim.rows) == 1 and claim.next_due is None


async def test_concurrent_claimers_never_share_a_row_or_a_lane(store: TortoiseStore) -> None:
    """Two workers (on PostgreSQL: two connections with SKIP LOCKED) claim at once."""
    import asyncio

    for lane in range(10):
        await _enqueue(store, f"desk:{lane}", 3)
    first, second = await asyncio.gather(
        store.claim_heads(NOW, 10, set(), LEASE, "desk"),
        store.claim_heads(NOW, 10, set(), LEASE, "desk"),
    )
    ids = [d.id for d in first + second]
    lanes = [d.lane for d in first + second]
    assert len(ids) == len(set(ids)) and len(lanes) == len(set(lanes)) == 10


async def test_exclusive_claims_write_nothing_and_page_by_id(store: TortoiseStore) -> None:
    """The only process on a database (SQLite) keeps claims in memory: no row is marked."""
    ids = await _enqueue(store, "desk:1", 3)
    [head] = await store.claim_heads(NOW, 10, set(), None, "desk")
    assert head.id == ids[0] and head.status is DeliveryStatus.PENDING
    assert await store.claim_heads(NOW, 10, {"desk:1"}, None, "desk") == []
    more = await store.claim_next("desk:1", NOW, 10, None, after_id=head.id)
    assert [d.id for d in more.rows] == ids[1:]
    assert await store.count_deliveries(DeliveryStatus.SENDING) == 0


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_postgres_connections_lost_are_replaced(db_url: str, store: TortoiseStore) -> None:
    """A PostgreSQL restart (here: every backend of the database terminated) costs the
    statements in flight, never the store: the next ones run on new connections."""
    import asyncpg

    from tests.dbs import PG_URL

    identity, customer = await _customer(store)
    admin = await asyncpg.connect(PG_URL)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()", db_url.rsplit("/", 1)[-1])
    finally:
        await admin.close()
    assert killed >= 1
    failures = 0
    for _ in range(20):  # each dead connection fails once, then is dropped and replaced
        try:
            conv = await store.create_conversation(customer, "telegram", identity, None, NOW)
            break
        except Exception:
            failures += 1
    else:
        raise AssertionError("the store never recovered")
    assert (await store.open_conversation(customer)) == conv
    async with store.transaction():  # transactions work again too
        assert (await store.customer_card(customer))[2] == 1


async def test_postgres_connections_go_to_waiters_first_come_first_served(
    pg_database: PgDatabase,
) -> None:
    """More callers than connections: a released connection goes to the longest waiter,
    never to a caller asking just then (a free-for-all starved some for 0.3 s)."""
    from tortoise.connection import get_connection

    from storage import pg_engine

    handle = await open_database(await pg_database.fresh(), apply_migrations=False)
    try:
        store, client = TortoiseStore(), get_connection("default")
        held = [await client.fast_acquire() for _ in range(pg_engine.FAST_CONNECTIONS)]
        served: list[str] = []

        async def caller(name: str) -> None:
            conn = await client.fast_acquire()
            served.append(name)
            await asyncio.sleep(0.01)
            client.fast_release(conn)

        waiting = [asyncio.create_task(caller(f"w{n}")) for n in range(4)]
        await asyncio.sleep(0.01)  # all four wait, in order
        client.fast_release(held.pop())
        await caller("late")  # asks the moment a connection comes free: after the four
        await asyncio.gather(*waiting)
        assert served == ["w0", "w1", "w2", "w3", "late"]
        for conn in held:
            client.fast_release(conn)
        await _customer(store)  # the pool is whole again
    finally:
        await close_database(handle)


async def test_a_burst_of_first_users_opens_the_fast_connections_once(
    pg_database: PgDatabase,
) -> None:
    """Forty callers at once, before any connection exists (a burst of new customers right
    after the start): they share one opening of the six, instead of six each (which once
    ran the server out of connections)."""
    from tortoise.connection import get_connection

    from storage import pg_engine

    handle = await open_database(await pg_database.fresh(), apply_migrations=False)
    try:
        client: Any = get_connection("default")
        opened: list[int] = []
        real_open = client._open

        async def counting_open(n: int) -> None:
            opened.append(n)
            await real_open(n)

        client._open = counting_open

        async def caller() -> None:
            conn = await client.fast_acquire()
            await conn.fetchval("SELECT 1")
            client.fast_release(conn)

        await asyncio.gather(*(caller() for _ in range(40)))
        assert opened == [pg_engine.FAST_CONNECTIONS]
        assert len(client._fast_all) == pg_engine.FAST_CONNECTIONS
    finally:
        await close_database(handle)


async def test_a_first_user_given_up_while_the_number_is_taken_leaves_nothing_open(
    pg_database: PgDatabase, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first fast_acquire opens the connection holding the process number, then asks
    for the lock on it. A stop cancels that caller between the two (the outbox's first pass
    at the stop of a short-lived app): the connection is closed, not left to the garbage
    collector ('unclosed connection' in a later test)."""
    import asyncpg
    from tortoise.connection import get_connection

    handle = await open_database(await pg_database.fresh(), apply_migrations=False)
    made: list[asyncpg.Connection] = []
    real_connect = asyncpg.connect
    first: asyncio.Task[Any] | None = None

    async def connect_then_give_up(*args: Any, **kwargs: Any) -> asyncpg.Connection:
        conn = await real_connect(*args, **kwargs)
        made.append(conn)
        if len(made) == 1 and first is not None:
            first.cancel()  # lands in the lock query that follows
        return conn

    monkeypatch.setattr(asyncpg, "connect", connect_then_give_up)
    try:
        client: Any = get_connection("default")
        first = asyncio.ensure_future(client.fast_acquire())
        with pytest.raises(asyncio.CancelledError):
            await first
        assert made and made[0].is_closed()
        monkeypatch.setattr(asyncpg, "connect", real_connect)
        conn = await client.fast_acquire()  # the next user takes a number afresh
        assert await conn.fetchval("SELECT 1") == 1
        client.fast_release(conn)
    finally:
        await close_database(handle)


async def test_sqlite_checkpoints_run_beside_the_loop(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Automatic checkpoints (an fsync inside some commit, on the loop thread) are off; the
    engine's own checkpointer still moves committed rows into the database file."""
    import sqlite3

    from tortoise.connection import get_connection

    from storage import sqlite_engine
    from storage.database import migrate

    monkeypatch.setattr(sqlite_engine, "CHECKPOINT_EVERY", 0.02)
    monkeypatch.setattr(sqlite_engine, "CHECKPOINT_BYTES", 1)
    path = tmp_path / "relaydesk.sqlite3"
    await migrate(f"sqlite://{path}")
    handle = await open_database(f"sqlite://{path}", apply_migrations=False)
    try:
        store = TortoiseStore()
        for n in range(30):
            await _customer(store, str(n))
        raw = sqlite_engine.raw_connection(get_connection("default"))
        assert raw is not None and raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0

        def in_database_file() -> int:  # `immutable` reads the main file only, not the WAL
            with contextlib.closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as db:
                return int(db.execute("SELECT COUNT(*) FROM identity").fetchone()[0])

        for _ in range(250):
            if in_database_file() == 30:
                break
            await asyncio.sleep(0.02)
        assert in_database_file() == 30
    finally:
        await close_database(handle)


async def test_sqlite_close_waits_for_a_checkpoint_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the database while a checkpoint runs in its thread must not close the
    checkpoint's connection under it (that was a SIGSEGV in sqlite3, seen at shutdown)."""
    import threading

    from storage import sqlite_engine
    from storage.database import migrate

    started, used, starts = threading.Event(), [], []

    def slow_checkpoint(conn: Any, wal: str) -> None:  # the real one, made slow
        starts.append(1)
        started.set()
        time.sleep(0.3)
        used.append(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    monkeypatch.setattr(sqlite_engine, "CHECKPOINT_EVERY", 0.01)
    monkeypatch.setattr(sqlite_engine, "_checkpoint_if_long", slow_checkpoint)
    url = f"sqlite://{tmp_path / 'close.sqlite3'}"
    await migrate(url)
    handle = await open_database(url, apply_migrations=False)
    await _customer(TortoiseStore())
    await asyncio.to_thread(started.wait, 5)
    await close_database(handle)  # while the checkpoint sleeps
    # Every checkpoint that started finished on an open connection (a closed one raises);
    # a slow machine may have started a second one before the close.
    assert used and len(used) == len(starts)


async def test_sqlite_a_cancelled_statement_in_a_thread_keeps_its_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under synchronous=FULL statements run in a worker thread. Cancelling their caller
    (a shutdown) must not free the connection while the thread still uses it."""
    import threading

    from storage import sqlite_engine
    from storage.database import migrate

    real, started, outcome = sqlite_engine.run, threading.Event(), []

    def slow(conn: Any, query: str, values: Any) -> Any:  # the real statement, made slow
        if query.startswith("INSERT INTO customer"):
            started.set()
            time.sleep(0.3)
            try:
                rows = real(conn, query, values)
            except Exception as exc:
                outcome.append(exc)
                raise
            outcome.append("ran")
            return rows
        return real(conn, query, values)

    url = f"sqlite://{tmp_path / 'full.sqlite3'}?synchronous=FULL"
    await migrate(url)
    handle = await open_database(url, apply_migrations=False)
    monkeypatch.setattr(sqlite_engine, "run", slow)
    task = asyncio.create_task(_customer(TortoiseStore()))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await close_database(handle)
    assert outcome == ["ran"]


async def test_sqlite_synchronous_full_commits_off_the_loop(tmp_path: Path) -> None:
    """With `?synchronous=FULL` every commit fsyncs; the engine then commits in a worker
    thread (under the connection's lock), inside and outside transactions alike."""
    from tortoise.connection import get_connection

    from storage.database import migrate

    url = f"sqlite://{tmp_path / 'full.sqlite3'}?synchronous=FULL"
    await migrate(url)
    handle = await open_database(url, apply_migrations=False)
    try:
        store = TortoiseStore()
        identity, customer = await _customer(store)  # autocommit statements
        async with store.transaction():
            conv = await store.create_conversation(customer, "telegram", identity, None, NOW)
        client = get_connection("default")
        assert client.commit_syncs  # type: ignore[attr-defined]
        assert (await store.open_conversation(customer)) == conv
    finally:
        await close_database(handle)


async def test_system_messages_and_relays_in_bulk_keep_their_order(store: TortoiseStore) -> None:
    """What a sweep posts to a thousand topics: two statements, ids in the given order."""
    from core.model import Content

    convs = []
    for n in range(3):
        identity, customer = await _customer(store, str(100 + n))
        convs.append(await store.create_conversation(customer, "telegram", identity, None, NOW))
    items = [(c.id, Content("text", f"notice {i}", data={"html": True}))
             for i, c in enumerate([convs[2], convs[0], convs[2], convs[1]])]
    async with store.transaction():
        ids = await store.add_system_messages(items, NOW)
        await store.enqueue_relays(
            [(f"desk:{conv}", "desk", "-1001", mid, conv)
             for (conv, _), mid in zip(items, ids, strict=True)], NOW)
    assert [(await store.get_message(i)).content.text for i in ids] == [
        "notice 0", "notice 1", "notice 2", "notice 3"]
    heads = await store.claim_heads(NOW, 10, set(), None, "desk")
    assert sorted((d.lane, d.message_id) for d in heads) == sorted(
        [(f"desk:{convs[2].id}", ids[0]), (f"desk:{convs[0].id}", ids[1]),
         (f"desk:{convs[1].id}", ids[3])])  # the second notice of convs[2] waits behind its first


async def test_customer_card_reads_customer_identities_and_conversations_at_once(
    store: TortoiseStore,
) -> None:
    identity, customer = await _customer(store)
    first = await store.create_conversation(customer, "telegram", identity, None, NOW)
    await store.close_conversation(first.id, NOW)
    await store.create_conversation(customer, "telegram", identity, 5, NOW)
    vk, _, _ = await store.upsert_identity("vk", "9", "9", Profile("Anna"), NOW)
    await store.move_customer(vk.customer_id, customer)
    lonely, _ = await _customer(store, "2")
    found, identities, conversations = await store.customer_card(customer)
    assert (found.id, found.display_name, conversations) == (customer, "Anna <b>", 2)
    assert [(i.channel, i.user_id) for i in identities] == [("telegram", "1"), ("vk", "9")]
    alone = await store.get_identity(lonely)
    assert (await store.customer_card(alone.customer_id))[1:] == ([alone], 0)
    with pytest.raises(LookupError):
        await store.customer_card(999)


async def test_rows_of_a_dead_process_are_given_back_and_a_live_ones_are_not(
    store: TortoiseStore,
) -> None:
    """PostgreSQL knows a process that died from one that lives: each holds an advisory
    lock on its number while its connection lives (storage.pg_engine)."""
    if not store._pg:
        assert await store.release_orphaned() == 0  # one process: nobody else's rows
        return
    import asyncpg
    from tortoise.connection import get_connection

    from storage.pg_engine import LIVENESS_NS

    [mine] = await _enqueue(store, "desk:1", 1)
    [head] = await store.claim_heads(NOW, 5, set(), LEASE, "desk")  # claimed by us
    assert head.id == mine
    client: Any = get_connection("default")
    other = await asyncpg.connect(host=client.host, port=client.port, user=client.user,
                                  password=client.password, database=client.database)
    await other.execute("SELECT pg_advisory_lock($1, 4242)", LIVENESS_NS)
    [theirs] = await _enqueue(store, "desk:2", 1)
    await store._raw("UPDATE delivery SET status = 'sending', owner = 4242, lease_us = ?"
                     " WHERE id = ?", [int(LEASE.timestamp() * 1e6), theirs])
    assert await store.release_orphaned() == 0  # both processes live
    await other.close()  # the other process dies: PostgreSQL drops its lock
    assert await store.release_orphaned() == 1
    rows = {r["id"]: r["status"] for r in await store._raw("SELECT id, status FROM delivery", [])}
    assert rows == {mine: "sending", theirs: "pending"}
    [claim] = await store._raw("SELECT owner FROM delivery WHERE id = ?", [mine])
    assert claim["owner"] == client.owner is not None  # the claim names its process


async def test_migration_0008_stops_the_clocks_of_closed_conversations(
    store: TortoiseStore,
) -> None:
    """Before the lifecycle, /link closed a conversation without stopping its deadlines."""
    import importlib

    from tortoise.connection import get_connection

    identity, customer, _ = await store.upsert_identity(
        "telegram", "9", "9", Profile("Anna", None, "en"), NOW)
    conversation = await store.create_conversation(customer.id, "telegram", identity.id, None,
                                                   NOW)
    await store._raw(
        "INSERT INTO sla_deadline (conversation_id, channel, kind, seq, started_us, due_us,"
        " remind_us, next_us, reminded, breached) VALUES (?, 'telegram', 'first_response', 1,"
        " 1, 2, NULL, 2, ?, ?)", [conversation.id, False, False])
    await store.close_conversation(conversation.id, NOW)

    class Editor:
        client = get_connection("default")

    await importlib.import_module("storage.migrations.0008_stop_closed_clocks").forward(
        None, Editor())
    [row] = await store._raw("SELECT stopped_us, next_us FROM sla_deadline", [])
    assert row["next_us"] is None and row["stopped_us"] == int(NOW.timestamp() * 1e6)

"""The outbox's liveness as a stated property, over a few hundred randomized interleavings.

Each seed plays customers and operators writing at once — texts, albums, edits of messages
still queued, answers — through the real IntakeService, Relayer, Outbox, rate limiter and
store (SQLite and PostgreSQL), against in-process platforms that answer with latency, 429
pauses, 5xx and deleted topics drawn from the seed, under Telegram's full-size limits
(20 posts a minute into the group). Time is a fake clock (tests/warp.py): idle waits cost
nothing, so an hour of flood windows and backoffs runs in a fraction of a second.

Whenever the whole system falls idle, a monitor looks at the outbox table before the clock
jumps to the next timer: a lane head that is due (or falls due before that timer) in a
destination with a free worker, that no worker runs, is a row that will be attempted
later than its due time plus BOUND — a liveness violation. So is a claimed row that no
worker runs. At the end every message has reached its destination exactly once, in the
order it was written, and the safety net never had to rescue anything.
"""

from __future__ import annotations

import contextvars
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from core.delivery.outbox import Outbox, OutboxSettings
from core.delivery.ratelimit import SlidingWindowLimiter
from core.intake.service import IntakeService
from core.model import (
    Content,
    InboundCustomerMessage,
    InboundEdit,
    InboundOperatorMessage,
    Profile,
)
from storage.database import close_database, open_database
from storage.store import TortoiseStore
from tests.fakes import (
    EPOCH,
    Faults,
    Journal,
    JournalingRelayer,
    LoopClock,
    ScriptedChannel,
    ScriptedDesk,
    Tracked,
)
from tests.parts import delivered_parts
from tests.warp import WarpLoop, run_warped

SEEDS = 120  # per database
BOUND = 0.5  # seconds a due, claimable head may wait for a worker that has a free slot
TABLES = ("delivery", "message_link", "message", "conversation", "identity", "customer")


@dataclass
class Person:
    """A customer, the chat they write from and what was written to and by them."""

    n: int
    channel: str
    wrote: list[str] = field(default_factory=list)  # customer texts, in order
    answers: list[str] = field(default_factory=list)  # operator texts, in order
    ids: list[str] = field(default_factory=list)  # their platform message ids
    contents: list[Content] = field(default_factory=list)
    conversation: int | None = None

    @property
    def chat(self) -> str:
        return str(7000 + self.n)


class Monitor:
    """Checks the outbox table each time the system falls idle."""

    def __init__(self, loop: WarpLoop, store: TortoiseStore, outbox: Outbox,
                 workers: int) -> None:
        self.loop, self.store, self.outbox, self.workers = loop, store, outbox, workers
        self.violations: list[str] = []
        self.checks = 0
        # The loop calls on_idle outside any task: the check runs in the context of the
        # scenario (tortoise's connections live in a context variable).
        self._context = contextvars.copy_context()

    def on_idle(self, now: float, until: float) -> None:
        if until - now <= BOUND:
            return  # nothing can wait longer than BOUND across this jump
        self.loop.create_task(self._guarded(now, until), context=self._context)

    async def _guarded(self, now: float, until: float) -> None:
        try:
            await self.check(now, until)
        except Exception as exc:  # a broken monitor must fail the test, not pass it
            self.violations.append(f"t={now:.2f}: the monitor failed: {exc!r}")

    async def check(self, now: float, until: float) -> None:
        with self.loop.busy():
            rows = await self.store._raw(
                "SELECT id, lane, target, status, due_us FROM delivery"
                " WHERE status IN ('pending', 'sending') ORDER BY id", [])
        self.checks += 1
        running = self.outbox.lanes_running
        heads: dict[str, Any] = {}
        for row in rows:
            if row["lane"] in running:
                continue
            if row["status"] == "sending":
                self.violations.append(f"t={now:.2f}: {row['lane']} row {row['id']} is "
                                       "claimed and no worker runs it")
            heads.setdefault(row["lane"], row)
        for lane, head in heads.items():
            if head["status"] != "pending" or self._slots_full(head["target"], running):
                continue
            due = head["due_us"] / 1e6 - EPOCH.timestamp()
            if max(due, now) + BOUND < until:
                self.violations.append(
                    f"t={now:.2f}: {lane} head {head['id']} due at {due:.2f} waits, with a "
                    f"free worker, until the next timer at {until:.2f}")

    def _slots_full(self, target: str, running: dict[str, str]) -> bool:
        return sum(1 for t in running.values() if t == target) >= self.workers


@dataclass
class World:
    loop: WarpLoop
    store: Any
    intake: IntakeService
    outbox: Outbox
    journal: Journal
    raw: TortoiseStore
    people: list[Person]
    rng: random.Random
    next_operator_message: int = 0

    async def customer_writes(self, person: Person, text: str, group: str | None = None
                              ) -> None:
        message_id = str(len(person.ids) + 1)
        person.ids.append(message_id)
        person.wrote.append(text)
        content = Content("photo" if group else "text", text, media_group_id=group)
        person.contents.append(content)
        result = await self.intake.relay_customer_to_desk(InboundCustomerMessage(
            person.channel, person.chat, person.chat, message_id,
            Profile(f"Customer {person.n}", None, "en"), content, self._now()))
        person.conversation = result.conversation_id

    async def customer_edits(self, person: Person) -> None:
        if not person.ids:
            return
        index = self.rng.randrange(len(person.ids))
        await self.intake.apply_edit(InboundEdit(
            person.channel, person.chat, person.ids[index], person.contents[index],
            self._now()))

    async def operator_answers(self, person: Person, text: str) -> bool:
        if person.conversation is None:
            return False
        conversation = await self.store.get_conversation(person.conversation)
        if conversation.topic_id is None:
            return False
        self.next_operator_message += 1
        person.answers.append(text)
        await self.intake.relay_operator_to_customer(InboundOperatorMessage(
            "telegram", "-100", conversation.topic_id, str(self.next_operator_message),
            "op1", "Olga", Content("text", text), self._now()))
        return True

    def _now(self) -> Any:
        return EPOCH + timedelta(seconds=self.loop.time())


async def _play(world: World, person: Person, script: list[tuple[float, str]]) -> None:
    """One person's actions, in order (a chat's updates are handled one after another)."""
    import asyncio

    for count, (gap, action) in enumerate(script, start=1):
        await asyncio.sleep(gap)
        label = f"c{person.n}.{count}"
        if action == "album":
            group = f"g{person.n}.{count}"
            for part in range(world.rng.randint(2, 4)):
                await world.customer_writes(person, f"{label}.{part}", group)
        elif action == "edit":
            await world.customer_edits(person)
        elif action == "answer":
            if not await world.operator_answers(person, f"o{person.n}.{count}"):
                await world.customer_writes(person, label)
        else:
            await world.customer_writes(person, label)


def _script(rng: random.Random) -> list[tuple[float, str]]:
    actions = rng.choices(["text", "album", "edit", "answer"], [5, 3, 1, 2],
                          k=rng.randint(3, 9))
    # People write in bursts: most messages follow the previous within the same second.
    gaps = [rng.uniform(0, 20)] + [rng.choice([0.0, 0.01, 0.05, 0.2, rng.expovariate(0.2)])
                                   for _ in actions[1:]]
    return list(zip(gaps, actions, strict=True))


async def _until_settled(world: World, horizon: float) -> None:
    import asyncio

    deadline = world.loop.time() + horizon
    while world.loop.time() < deadline:
        rows = await world.store.count_deliveries(None)
        open_rows = await world.store._raw(
            "SELECT COUNT(*) AS n FROM delivery WHERE status IN ('pending', 'sending')", [])
        if rows and not open_rows[0]["n"]:
            return
        await asyncio.sleep(5.0)
    raise AssertionError(f"deliveries still open after {horizon}s of virtual time")


async def _run_seed(loop: WarpLoop, seed: int, exclusive: bool) -> tuple[World, Monitor]:
    import asyncio

    rng = random.Random(seed)
    faults = Faults(retry_after=rng.choice([0.0, 0.03, 0.1]),
                    transient=rng.choice([0.0, 0.05, 0.15]),
                    topic_missing=rng.choice([0.0, 0.0, 0.02]), not_modified=0.2,
                    latency=rng.choice([0.01, 0.05, 0.3]))
    workers = rng.choice([1, 2, 8])
    raw = TortoiseStore()
    store = Tracked(raw, loop)
    clock = LoopClock(loop)
    journal = Journal()
    desk = ScriptedDesk(rng, faults, journal)
    channels = {name: ScriptedChannel(name, rng, faults, journal, per_chat=name == "telegram")
                for name in ("telegram", "vk")}
    parts = delivered_parts(
        store, clock, desk, channels,
        OutboxSettings(workers=workers, backoff_base=0.5, backoff_max=20.0,
                       exclusive=exclusive),
        limiter=SlidingWindowLimiter(monotonic=loop.time), relayer_class=JournalingRelayer,
        relayer_kwargs={"journal": journal, "loop": loop},
        album_wait=timedelta(seconds=rng.choice([0.3, 1.0])))
    outbox, intake = parts.outbox, parts.intake
    assert outbox is not None
    people = [Person(n, rng.choice(["telegram", "vk"])) for n in range(rng.randint(2, 6))]
    world = World(loop, store, intake, outbox, journal, raw, people, rng)
    monitor = Monitor(loop, raw, outbox, workers)
    runner = loop.create_task(outbox.run())
    loop.on_idle = monitor.on_idle
    try:
        await asyncio.gather(*(_play(world, p, _script(rng)) for p in people))
        await _until_settled(world, 4 * 3600)
    finally:
        loop.on_idle = None
        await outbox.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    return world, monitor


def _check(world: World, monitor: Monitor, seed: int) -> None:
    context = f"seed {seed}"
    assert not monitor.violations, f"{context}: {monitor.violations[:5]}"
    assert world.outbox.rescued == 0, context
    posted = [text for topic in world.journal.topics.values() for text in topic]
    for person in world.people:
        mine = [t for t in posted if t.startswith(f"c{person.n}.")]
        assert mine == person.wrote, f"{context}: customer {person.n} FIFO/once: {mine}"
        answers = world.journal.sent.get(person.chat, [])
        assert answers == person.answers, f"{context}: answers to {person.n}: {answers}"
    # no lane ran two steps at once, and each row succeeded once
    done = [i for a in world.journal.attempts if a.error is None for i in a.ids]
    assert len(done) == len(set(done)), context


async def _clear(store: TortoiseStore) -> None:
    for table in TABLES:
        await store._raw(f"DELETE FROM {table}", [])  # noqa: S608 - fixed table names


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A migrated database URL (the async `db_url` fixture needs pytest's own loop; these
    tests run on a WarpLoop)."""
    if request.param == "sqlite":
        from storage.database import migrate

        url = f"sqlite://{tmp_path / 'property.sqlite3'}"
        async def migrated(loop: WarpLoop) -> None:
            with loop.busy():
                await migrate(url)

        run_warped(migrated)
        return url
    pg = request.getfixturevalue("pg_database")

    async def fresh(loop: WarpLoop) -> str:
        with loop.busy():
            return str(await pg.fresh())

    return str(run_warped(fresh))


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_every_due_row_is_attempted_in_time_and_in_order(database: str) -> None:
    exclusive = database.startswith("sqlite")

    async def main(loop: WarpLoop) -> list[str]:
        with loop.busy():
            handle = await open_database(database, apply_migrations=False)
        failures: list[str] = []
        checks = 0
        try:
            store = TortoiseStore()
            for seed in range(SEEDS):
                with loop.busy():
                    await _clear(store)
                world, monitor = await _run_seed(loop, seed, exclusive)
                checks += monitor.checks
                try:
                    _check(world, monitor, seed)
                except AssertionError as exc:
                    failures.append(str(exc))
        finally:
            with loop.busy():
                await close_database(handle)
        if checks < SEEDS:  # a monitor that never looks would pass anything
            failures.append(f"the monitor looked only {checks} times")
        return failures

    failures = run_warped(main)
    assert not failures, f"{len(failures)} of {SEEDS} seeds failed: {failures[:3]}"


def test_the_warp_loop_skips_idle_time_only() -> None:
    """An hour of sleeping takes no real time; work marked busy is waited for."""
    import asyncio
    import time

    async def main(loop: WarpLoop) -> tuple[float, float]:
        started, real = loop.time(), time.monotonic()
        await asyncio.sleep(3600)
        with loop.busy():
            await asyncio.to_thread(time.sleep, 0.05)  # a "database call" in real time
        return loop.time() - started, time.monotonic() - real

    virtual, real = run_warped(main)
    assert virtual >= 3600.05 and real < 60


"""The dispatcher's looks at a backlog (issue 15): 200 lanes × 5 pending rows, lanes in
flight, lanes this process runs, heads not yet due, a lane's long delivered history and a
lane with rows of two targets. `claim_heads`, `next_due_at` and `overdue_heads` must name
exactly the heads a plain reading of the rules names, and draining the backlog by claims
keeps every lane in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from core.model import DESK, DeliveryStatus
from storage.database import close_database, open_database
from storage.store import TortoiseStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=5)
LANES, PER_LANE = 200, 5
TARGETS = [DESK, "telegram"]


@dataclass
class Row:
    id: int
    lane: str
    target: str
    status: str = "pending"
    due: datetime = NOW


def _lane(i: int) -> tuple[str, str]:
    return (f"desk:{i}", DESK) if i % 2 else (f"telegram:{i}", "telegram")


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[TortoiseStore]:
    handle = await open_database(db_url, apply_migrations=False)
    try:
        yield TortoiseStore()
    finally:
        await close_database(handle)


async def _history(store: TortoiseStore, rows: list[Row]) -> None:
    """Lane desk:1 delivered 60 rows before the burst."""
    await store.enqueue_relays([("desk:1", DESK, "c", n, 1) for n in range(60)], NOW)
    ids = list(range(1, 61))
    await store.complete(ids)
    rows += [Row(i, "desk:1", DESK, "done") for i in ids]


async def _backlog(store: TortoiseStore) -> list[Row]:
    """The rows as the store holds them, oldest first."""
    rows: list[Row] = []
    await _history(store, rows)
    # An edit queued in lane desk:3 for another target, ahead of the lane's burst.
    await store.enqueue_relays([("desk:3", "telegram", "c", 0, 3)], NOW)
    rows.append(Row(len(rows) + 1, "desk:3", "telegram"))
    burst = [(*_lane(i), "c", k, i) for k in range(PER_LANE) for i in range(LANES)]
    await store.enqueue_relays(burst, NOW)
    rows += [Row(len(rows) + 1 + n, lane, target) for n, (lane, target, *_) in enumerate(burst)]
    for i in range(0, 24):  # in flight: another process sends their first row
        lane = _lane(i)[0]
        [head] = (await store.claim_next(lane, NOW, 1, LEASE)).rows
        next(r for r in rows if r.id == head.id).status = "sending"
    for i in range(30, 60, 3):  # first rows retried later: their lanes wait, followers too
        head = next(r for r in rows if r.lane == _lane(i)[0] and r.status == "pending")
        head.due = NOW + timedelta(seconds=i)
        await store.reschedule(head.id, head.due, "429", attempts=1)
    return rows


def _heads(rows: list[Row], targets: list[str], exclude: set[str]) -> list[Row]:
    """The rules read plainly: a lane's first pending row, unless a row of it is in flight."""
    busy = {r.lane for r in rows if r.status == "sending"}
    first: dict[str, Row] = {}
    for r in rows:
        if r.status == "pending" and r.lane not in busy:
            first.setdefault(r.lane, r)
    return sorted((r for r in first.values() if r.target in targets and r.lane not in exclude),
                  key=lambda r: r.id)


async def test_looks_at_a_backlog_name_exactly_the_lane_heads(store: TortoiseStore) -> None:
    rows = await _backlog(store)
    mine = {_lane(i)[0] for i in range(24, 32)}  # lanes this process runs
    for target in TARGETS:
        due = [r.id for r in _heads(rows, [target], mine) if r.due <= NOW]
        claimed = await store.claim_heads(NOW, 8, mine, None, target)
        assert [d.id for d in claimed] == due[:8]
        everything = await store.claim_heads(NOW, 1000, mine, None, target)
        assert [d.id for d in everything] == due
    for targets in ([DESK], TARGETS):
        heads = _heads(rows, targets, mine)
        assert await store.next_due_at(mine, targets) == min(r.due for r in heads)
        later = [r for r in heads if r.due > NOW]
        assert await store.next_due_at(mine | {r.lane for r in heads if r.due <= NOW},
                                       targets) == min(r.due for r in later)
    assert await store.next_due_at() == NOW
    overdue = await store.overdue_heads(NOW + timedelta(seconds=40), mine, TARGETS, limit=500)
    expected = [r for r in _heads(rows, TARGETS, mine) if r.due < NOW + timedelta(seconds=40)]
    assert sorted(d.id for d in overdue) == sorted(r.id for r in expected)
    assert [d.next_attempt_at for d in overdue] == sorted(r.due for r in expected)


async def test_draining_a_backlog_by_claims_keeps_every_lane_in_order(
    store: TortoiseStore,
) -> None:
    """Two dispatchers take turns claiming heads (leased), each completing what it took;
    the rows in flight elsewhere finish half-way. Every row is sent once, lanes in order."""
    rows = await _backlog(store)
    sent: list[int] = []
    later = NOW + timedelta(minutes=1)  # every retry due
    for turn in range(1000):
        claimed = await store.claim_heads(later, 8, set(), LEASE, TARGETS[turn % 2])
        if turn == 20:
            await store.complete([r.id for r in rows if r.status == "sending"])
            sent += [r.id for r in rows if r.status == "sending"]
        if not claimed and turn > 20 and await store.next_due_at() is None:
            break
        assert len({d.lane for d in claimed}) == len(claimed)
        await store.complete([d.id for d in claimed])
        sent += [d.id for d in claimed]
    lanes = {r.id: r.lane for r in rows if r.status != "done"}
    assert sorted(sent) == sorted(lanes)
    for lane in set(lanes.values()):
        order = [i for i in sent if lanes[i] == lane]
        assert order == sorted(order), lane
    assert await store.count_deliveries(DeliveryStatus.PENDING) == 0

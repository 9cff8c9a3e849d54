"""The outbox's safety net and its stop, on SQLite and PostgreSQL.

The safety net is shown working by disabling one wake-up (the lane's report of the row it
leaves behind) and watching it rescue the row, with the lane named in the log. The stop is
shown by stopping while a dozen new customers' posts wait for the group's flood window.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from core.clock import SystemClock
from core.delivery.outbox import Outbox, OutboxSettings
from core.delivery.ports import LaneClaim
from core.intake.service import IntakeService
from core.model import Content, InboundCustomerMessage, Profile
from storage.database import close_database, open_database
from storage.store import TortoiseStore
from tests.fakes import Faults, Journal, JournalingRelayer, ScriptedDesk
from tests.harness import Desk, StartRelay
from tests.parts import delivered_parts

GROUP_PER_MINUTE = ("{private_chat: {count: 10, per: 100ms}, group: {count: 20, per: 1m},"
                    " bot: {count: 30, per: 1s}}")


@dataclass
class Parts:
    store: TortoiseStore
    intake: IntakeService
    outbox: Outbox
    journal: Journal


@pytest.fixture
async def parts(db_url: str) -> AsyncIterator[Parts]:
    handle = await open_database(db_url, apply_migrations=False)
    store, clock, journal = TortoiseStore(), SystemClock(), Journal()
    loop = asyncio.get_running_loop()
    desk = ScriptedDesk(random.Random(1), Faults(latency=0.1), journal)
    parts = delivered_parts(
        store, clock, desk, settings=OutboxSettings(
            exclusive=db_url.startswith("sqlite"), rescue_every=0.2, rescue_after=0.3),
        relayer_class=JournalingRelayer, relayer_kwargs={"journal": journal, "loop": loop},
        album_wait=timedelta(milliseconds=200))
    outbox, intake = parts.outbox, parts.intake
    assert outbox is not None
    runner = asyncio.create_task(outbox.run())
    try:
        yield Parts(store, intake, outbox, journal)
    finally:
        await outbox.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await close_database(handle)


def _message(n: int, text: str, group: str | None = None) -> InboundCustomerMessage:
    from datetime import UTC, datetime

    return InboundCustomerMessage("telegram", "42", "42", str(n), Profile("Anna"),
                                  Content("photo" if group else "text", text,
                                          media_group_id=group), datetime.now(UTC))


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.02)


def _posted(parts: Parts) -> list[str]:
    return [text for topic in parts.journal.topics.values() for text in topic]


async def test_the_safety_net_rescues_a_row_whose_wake_up_was_missed(
    parts: Parts, caplog: pytest.LogCaptureFixture
) -> None:
    await parts.intake.relay_customer_to_desk(_message(1, "hello"))
    await _until(lambda: "hello" in _posted(parts))
    # Disable one wake-up: a lane no longer says when the row it leaves behind is due.
    store = parts.store
    real_claim_next = store.claim_next

    async def forgetful(*args: Any, **kwargs: Any) -> LaneClaim:
        claim = await real_claim_next(*args, **kwargs)
        return LaneClaim(claim.rows, None)

    store.claim_next = forgetful  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING, logger="core.delivery.outbox")
    await parts.intake.relay_customer_to_desk(_message(2, "here are the photos"))
    for n in (3, 4):  # committed while the text is on the wire, due 200 ms later
        await parts.intake.relay_customer_to_desk(_message(n, f"photo {n}", group="g1"))
    await _until(lambda: "photo 4" in _posted(parts))
    assert parts.outbox.rescued >= 1
    [conversation] = await store._raw("SELECT id FROM conversation", [])
    rescues = [r.getMessage() for r in caplog.records if "rescued lane" in r.getMessage()]
    assert rescues and f"desk:{conversation['id']}" in rescues[0]
    assert _posted(parts)[-3:] == ["here are the photos", "photo 3", "photo 4"]


async def test_with_every_wake_up_in_place_the_safety_net_never_fires(parts: Parts) -> None:
    await parts.intake.relay_customer_to_desk(_message(1, "hello"))
    await parts.intake.relay_customer_to_desk(_message(2, "here are the photos"))
    for n in (3, 4):
        await parts.intake.relay_customer_to_desk(_message(n, f"photo {n}", group="g1"))
    await _until(lambda: "photo 4" in _posted(parts))
    await asyncio.sleep(0.6)  # two rounds of the safety net
    assert parts.outbox.rescued == 0


async def test_stop_while_paced_returns_waiting_sends_to_the_queue_at_once(
    desk: Desk, start_relay: StartRelay
) -> None:
    """Twelve new customers cost 36 posts into a group allowed 20 a minute: most of them
    wait for the window when the process is told to stop. No send is on the wire, so no
    worker has to be cut off; every message is kept, none is half-sent."""
    app = await start_relay(limits=GROUP_PER_MINUTE)
    services = app.services
    assert services is not None
    for n in range(12):
        await desk.customer(f"Customer {n}").says(f"question {n}")
    store = services.store

    async def stored() -> int:
        rows = await store._raw("SELECT COUNT(*) AS n FROM message WHERE kind = 'customer'", [])
        return int(rows[0]["n"])

    # Every message committed (the poller's count also includes the topics' service updates).
    for _ in range(200):
        if await stored() == 12:
            break
        await asyncio.sleep(0.05)
    await desk.wait(lambda: len(desk.topics()) >= 6)  # the window is spent; the rest waits
    cut = await services.outbox.stop(grace=2.0)
    assert cut == 0
    in_flight = await store._raw("SELECT COUNT(*) AS n FROM delivery WHERE status = 'sending'",
                                 [])
    assert in_flight[0]["n"] == 0
    waiting = await store._raw("SELECT COUNT(*) AS n FROM delivery WHERE status = 'pending'", [])
    assert await stored() == 12 and waiting[0]["n"] > 0

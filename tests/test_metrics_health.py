"""/metrics, /healthz and /readyz on the `http:` server, read while customers write."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest

from bench.ports import free_port
from bots.app import App
from bots.health import OUTBOX_STUCK
from bots.metrics import DB_VALUES_MAX_AGE
from storage.observe import ObservationStore
from tests.harness import Desk, StartRelay
from tests.test_webhook import start_webhook_relay

HTTP = "http: {listen: '127.0.0.1:0', metrics_token: 'scrape-me'}"
AUTH = {"Authorization": "Bearer scrape-me"}


async def get(app: App, path: str, headers: dict[str, str] | None = None
              ) -> tuple[int, str]:
    assert app.services is not None and app.services.http is not None
    url = f"http://127.0.0.1:{app.services.http.port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as answer:
        return answer.status, await answer.text()


def value(text: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus text format (0 when the series is absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
        if found == wanted:
            return float(match.group(3))
    return 0.0


async def test_metrics_move_as_messages_flow(desk: Desk, start_relay: StartRelay) -> None:
    app = await start_relay(extra=HTTP)
    assert (await get(app, "/metrics"))[0] == 401
    assert (await get(app, "/metrics", {"Authorization": "Bearer wrong"}))[0] == 401
    status, before = await get(app, "/metrics", AUTH)
    assert status == 200 and "relaydesk_relay_latency_seconds_bucket" in before
    assert value(before, "relaydesk_updates_total", channel="telegram") == 0
    assert value(before, "relaydesk_sla_breaches_total") == 0

    anna = desk.customer("Anna")
    await anna.says("count me")
    topic = await desk.topic_with("count me")
    # Telegram asks for a pause once: the outbox waits it out, and the metric adds it up.
    desk.emu.inject_fault("copyMessage", error_code=429, description="Too Many Requests: "
                          "retry after 1", retry_after=1)
    await anna.says("and me, after a pause")
    await desk.wait(lambda: desk.find("and me, after a pause") is not None)
    await desk.operator("Olga").says(topic, "hello Anna")
    await anna.receives("hello Anna")

    async def delivered_to_anna() -> str:
        # The copy is in Anna's chat a moment before the outbox hears the answer and counts;
        # the database's gauges (pending rows) are read at most once a second, so a scrape
        # may still show the last row pending: wait for the read after it left.
        while True:
            _, text = await get(app, "/metrics", AUTH)
            if value(text, "relaydesk_deliveries_total", destination="telegram",
                     outcome="delivered") >= 1 \
                    and value(text, "relaydesk_outbox_pending", destination="desk") == 0:
                return text
            await asyncio.sleep(0.05)

    after = await asyncio.wait_for(delivered_to_anna(), 10)
    assert value(after, "relaydesk_updates_total", channel="telegram") >= 3
    assert value(after, "relaydesk_deliveries_total", destination="desk",
                 outcome="delivered") >= 2  # two copies (and the card)
    assert value(after, "relaydesk_deliveries_total", destination="desk",
                 outcome="flood_wait") == 1
    assert value(after, "relaydesk_deliveries_total", destination="telegram",
                 outcome="delivered") >= 1
    assert value(after, "relaydesk_flood_wait_seconds_total", target="desk") == 1
    assert value(after, "relaydesk_relay_latency_seconds_count") >= 2
    assert value(after, "relaydesk_outbox_pending", destination="desk") == 0


async def test_health_and_readiness_follow_the_poller(desk: Desk,
                                                      start_relay: StartRelay) -> None:
    app = await start_relay(extra=HTTP)
    assert await get(app, "/healthz") == (200, "ok\n")
    status, body = await get(app, "/readyz")
    assert status == 200, body
    # getUpdates stops answering (poll_timeout is 1s here): after two timeouts, not ready.
    desk.emu.inject_delay("getUpdates", 30, times=None)

    async def unready() -> str:
        while True:
            status, body = await get(app, "/readyz")
            if status == 503:
                return body
            await asyncio.sleep(0.2)

    body = await asyncio.wait_for(unready(), 15)
    assert "getUpdates has not answered" in body
    assert (await get(app, "/healthz"))[0] == 200  # the process itself still runs


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_readiness_follows_the_database(db_url: str, desk: Desk,
                                              start_relay: StartRelay) -> None:
    """PostgreSQL stops taking our connections: /readyz says so, and recovers after."""
    app = await start_relay(extra=HTTP)
    assert (await get(app, "/readyz"))[0] == 200
    name = db_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(db_url.rsplit("/", 1)[0].replace("postgres://",
                                                                 "postgresql://") + "/postgres")
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        status, body = await get(app, "/readyz")
        assert status == 503 and "database" in body
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()

    async def ready() -> None:
        while True:
            if (await get(app, "/readyz"))[0] == 200:
                return
            await asyncio.sleep(0.2)

    await asyncio.wait_for(ready(), 15)


async def readiness(app_port: int, want: int, timeout: float = 20.0) -> str:
    """/readyz's body once it answers `want` (polled: the probe's view changes with time)."""
    async def poll() -> str:
        async with aiohttp.ClientSession() as session:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{app_port}/readyz") as answer:
                        if answer.status == want:
                            return await answer.text()
                await asyncio.sleep(0.1)

    return await asyncio.wait_for(poll(), timeout)


@pytest.fixture
def webhook_desk(desk: Desk) -> Desk:
    desk.emu.options.webhook_allow_http = True
    desk.emu.options.webhook_retry_delay = 0.05
    return desk


async def test_readiness_follows_the_webhook(webhook_desk: Desk,
                                             start_relay: StartRelay) -> None:
    """Not ready while the webhook is not set yet (start retrying setWebhook), nor when it
    is deleted at Telegram behind our back; ready again once it is ours."""
    desk, port = webhook_desk, free_port()
    desk.emu.inject_fault("setWebhook", error_code=502, description="Bad Gateway", times=None)
    starting = asyncio.create_task(start_webhook_relay(start_relay, port))
    try:
        body = await readiness(port, 503)
        assert "the webhook is not set" in body
        desk.emu.reset_faults()
        app = await asyncio.wait_for(starting, 60)
    finally:
        if not starting.done():
            starting.cancel()
    await readiness(port, 200)
    bot = desk.emu.state.bots[desk.bot_id]
    ours = bot.webhook_url
    bot.webhook_url = ""  # someone called deleteWebhook (a polling deployment, by hand)
    body = await readiness(port, 503)
    assert f"not set at Telegram (expected {ours})" in body
    assert app.services is not None and app.services.webhook is not None
    await app.services.webhook.set()
    await readiness(port, 200)


async def test_readiness_sees_a_stuck_outbox(desk: Desk, start_relay: StartRelay) -> None:
    """A row due long ago that still waits (its lane blocked by a send that does not come
    back) makes the process unready; it is ready again once the outbox moves."""
    app = await start_relay(extra=HTTP)
    assert app.services is not None and app.services.http is not None
    port = app.services.http.port
    assert port is not None
    anna = desk.customer("Anna")
    await anna.says("first")
    topic = await desk.topic_with("first")
    await readiness(port, 200)
    # The next copy hangs in the emulator: the message after it waits in its lane. Long
    # enough that a loaded machine still sees the aged row before the copy comes back.
    desk.emu.inject_delay("copyMessage", 8, chat_id=desk.group)
    await anna.says("second, hanging")
    await anna.says("third, waiting behind it")
    store = ObservationStore()
    raw = store._raw  # noqa: SLF001 - the test ages a waiting row instead of waiting 5 minutes

    async def waiting() -> bool:
        rows = await raw("SELECT COUNT(*) AS n FROM delivery WHERE status = 'pending'", [])
        return int(rows[0]["n"]) > 0

    await asyncio.wait_for(until_true(waiting), 10)
    assert not await store.overdue_pending(datetime.now(UTC) - OUTBOX_STUCK)
    await raw("UPDATE delivery SET due_us = due_us - ? WHERE status = 'pending'",
              [int(2 * OUTBOX_STUCK.total_seconds() * 1_000_000)])
    body = await readiness(port, 503)
    assert re.search(r"outbox: [12] deliveries overdue by more than 300s", body), body
    _, text = await get(app, "/metrics", AUTH)
    assert value(text, "relaydesk_outbox_pending", destination="desk") >= 1
    await desk.wait(lambda: any(m.get("text") == "third, waiting behind it"
                                for m in desk.bot_posts(topic)), timeout=20)
    await readiness(port, 200)
    await asyncio.sleep(DB_VALUES_MAX_AGE)  # the database's values are read again
    _, text = await get(app, "/metrics", AUTH)
    assert value(text, "relaydesk_outbox_pending", destination="desk") == 0


async def until_true(check: Callable[[], Awaitable[bool]]) -> None:
    """Polls the database (no event to wait on: another connection writes it)."""
    while not await check():  # noqa: ASYNC110
        await asyncio.sleep(0.05)

"""MAX in webhook mode (SQLite and PostgreSQL): the emulator pushes to relaydesk's HTTP
server; a wrong secret is refused, a push MAX repeats is stored once."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bots.app import App, StartupError
from tests.harness import Desk
from tests.max_harness import MaxSide, StartMaxRelay
from tests.vk_harness import bot_texts

SECRET = "relaydesk_Test-Webhook_secret1"
WEBHOOK = f"""  mode: webhook
  webhook: {{path: /max/hook, secret: "{SECRET}"}}
http:
  listen: 127.0.0.1:0
"""


async def _start(maxb: MaxSide, start_max_relay: StartMaxRelay) -> App:
    maxb.emu.options.webhook_retry_delays = (0.05, 0.1, 0.2, 0.4)
    return await start_max_relay(WEBHOOK)


def _url(app: App) -> str:
    assert app.services is not None and app.services.http is not None
    return f"http://127.0.0.1:{app.services.http.port}/max/hook"


async def test_pushes_make_topics_and_answers_go_out(desk: Desk, maxb: MaxSide,
                                                    start_max_relay: StartMaxRelay) -> None:
    app = await _start(maxb, start_max_relay)
    hook = maxb.bot.webhook
    assert hook is not None and hook.url == _url(app) and hook.secret == SECRET
    ivan = maxb.customer()
    ivan.says("hello via webhook")
    topic = await desk.topic_with("hello via webhook")
    await desk.operator().says(topic, "hi Ivan")
    await ivan.receives("hi Ivan")
    assert not maxb.emu.calls("GET /updates")  # no polling beside the webhook
    assert all(p["status"] == 200 for p in maxb.emu.pushes)


async def test_a_wrong_secret_is_refused_and_nothing_is_stored(
    desk: Desk, maxb: MaxSide, start_max_relay: StartMaxRelay
) -> None:
    app = await _start(maxb, start_max_relay)
    ivan = maxb.customer()
    forged = {"update_type": "message_created", "timestamp": 1,
              "message": {"sender": {"user_id": ivan.id, "first_name": "Forged"},
                          "recipient": {"chat_id": 1, "chat_type": "dialog"},
                          "timestamp": 1, "body": {"mid": "mid.forged", "text": "forged"}}}
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Max-Bot-Api-Secret": "wrong-secret"}):
            async with session.post(_url(app), json=forged, headers=headers) as resp:
                assert resp.status == 403
        # the right secret with something that is not an update: refused too
        async with session.post(_url(app), data=b"not json",
                                headers={"X-Max-Bot-Api-Secret": SECRET}) as resp:
            assert resp.status == 400
    ivan.says("the real one")
    await desk.topic_with("the real one")
    assert desk.find("forged") is None


async def test_a_repeated_push_is_stored_once(desk: Desk, maxb: MaxSide,
                                             start_max_relay: StartMaxRelay) -> None:
    await _start(maxb, start_max_relay)
    ivan = maxb.customer()
    maxb.emu.fail_pushes(2)  # our 200s get lost: MAX pushes the same update twice more
    ivan.says("only once please")
    topic = await desk.topic_with("only once please")
    await maxb.emu.wait_for(lambda: len(maxb.emu.pushes) >= 3)
    ivan.stops_bot()
    maxb.emu.fail_pushes(1)
    ivan.starts_bot()
    await ivan.receives("Hello! Write your question here and a support agent will answer "
                        "you.")
    await maxb.emu.wait_for(lambda: len(maxb.emu.pushes) >= 6)
    ivan.says("after")
    await desk.wait(lambda: "after" in bot_texts(desk, topic))
    assert bot_texts(desk, topic).count("only once please") == 1
    assert len(ivan.texts()) == 1  # greeted once
    assert [p["attempt"] for p in maxb.emu.pushes[:3]] == [0, 1, 2]


async def test_webhook_mode_without_the_http_section_stops_the_start(
    desk: Desk, maxb: MaxSide, start_max_relay: StartMaxRelay
) -> None:
    with pytest.raises(StartupError, match=r"max\.mode: webhook mode needs the http: "):
        await start_max_relay(f'  mode: webhook\n  webhook: {{secret: "{SECRET}"}}\n')


async def test_a_push_is_answered_200_only_once_stored() -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from adapters.max.webhook import MaxWebhook

    stored: list[dict[str, object]] = []
    release = asyncio.Event()

    async def handler(updates: list[dict[str, object]]) -> None:
        if updates[0]["update_type"] == "bot_stopped":
            raise RuntimeError("the database is away")  # a rare error path
        if updates[0]["update_type"] == "bot_started":
            await release.wait()  # storing hangs past the deadline
        stored.extend(updates)

    hook = MaxWebhook("/hook", SECRET, handler, deadline=0.2)
    app = web.Application()
    hook.mount(app)
    headers = {"X-Max-Bot-Api-Secret": SECRET}
    async with TestClient(TestServer(app)) as client:
        ok = await client.post("/hook", json={"update_type": "message_created"},
                               headers=headers)
        assert ok.status == 200 and len(stored) == 1
        failed = await client.post("/hook", json={"update_type": "bot_stopped"},
                                   headers=headers)
        assert failed.status == 500
        slow = await client.post("/hook", json={"update_type": "bot_started"},
                                 headers=headers)
        assert slow.status == 503 and len(stored) == 1
        not_an_update = await client.post("/hook", json=[1, 2], headers=headers)
        assert not_an_update.status == 400

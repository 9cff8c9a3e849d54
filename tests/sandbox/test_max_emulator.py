"""The MAX emulator itself, with plain HTTP requests: keyboard limits, update type filters,
the error body, webhook pushes and giving up on a webhook, the HTTP control API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.max import BotRecord, MaxEmulator


@pytest.fixture
async def max_emu() -> AsyncIterator[MaxEmulator]:
    emulator = MaxEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
def bot(max_emu: MaxEmulator) -> BotRecord:
    return max_emu.add_bot("Support", "max-Emulator-Test-Token-0123456789")


async def _call(emu: MaxEmulator, bot: BotRecord, method: str, path: str,
                query: dict[str, Any] | None = None, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
        method, emu.base_url + path, params={k: str(v) for k, v in (query or {}).items()},
        json=body, headers={"Authorization": bot.token},
    ) as resp:
        return resp.status, await resp.json()


def _board(rows: list[list[dict[str, Any]]]) -> dict[str, Any]:
    return {"type": "inline_keyboard", "payload": {"buttons": rows}}


@pytest.mark.parametrize(("rows", "why"), [
    ([[{"type": "callback", "text": "b", "payload": "p"}] * 8], "too many buttons in a row"),
    ([[{"type": "link", "text": "b", "url": "https://x"}] * 4], "too many buttons in a row"),
    ([[{"type": "callback", "text": "x" * 129, "payload": "p"}]], "1..128"),
    ([[{"type": "callback", "text": "b", "payload": "p" * 1025}]], "longer than 1024"),
    ([[{"type": "callback", "text": "b", "payload": "p"}]] * 31, "1..30 rows"),
    ([[{"type": "teleport", "text": "b"}]], "unknown type"),
])
async def test_keyboards_past_max_limits_are_refused(max_emu: MaxEmulator, bot: BotRecord,
                                                     rows: list[Any], why: str) -> None:
    anna = max_emu.add_user("Anna")
    status, body = await _call(max_emu, bot, "POST", "/messages", {"user_id": anna.user_id},
                               {"text": "pick", "attachments": [_board(rows)]})
    assert status == 400 and why in body["message"] and body["code"] == "proto.payload"


async def test_types_filter_and_unknown_target(max_emu: MaxEmulator, bot: BotRecord) -> None:
    anna = max_emu.add_user("Anna")
    max_emu.user_send(anna, "hi")
    max_emu.user_stops(anna)
    head = bot.updates[0][0]
    status, body = await _call(max_emu, bot, "GET", "/updates",
                               {"marker": head, "timeout": 0, "types": "bot_stopped"})
    assert status == 200 and [u["update_type"] for u in body["updates"]] == ["bot_stopped"]
    assert body["updates"][0]["chat_id"] > 0 and body["updates"][0]["timestamp"] > 10**12
    status, body = await _call(max_emu, bot, "POST", "/messages", {"user_id": 1},
                               {"text": "to nobody"})
    assert status == 404 and body["code"] == "chat.not.found"
    status, body = await _call(max_emu, bot, "POST", "/messages", {"user_id": anna.user_id},
                               {"text": "x"})
    assert status == 403 and body["code"] == "chat.denied"  # she stopped the bot
    boris = max_emu.add_user("Boris")
    status, body = await _call(max_emu, bot, "POST", "/messages", {"user_id": boris.user_id},
                               {"text": "x" * 4001})
    assert status == 400 and "between 0 and 4000" in body["message"]


async def test_a_webhook_is_pushed_until_200_and_dropped_after_every_retry_failed(
    max_emu: MaxEmulator, bot: BotRecord
) -> None:
    max_emu.options.webhook_retry_delays = (0.01, 0.01)
    seen: list[tuple[str | None, dict[str, Any]]] = []
    answers = [500, 200]

    async def receive(request: web.Request) -> web.Response:
        seen.append((request.headers.get("X-Max-Bot-Api-Secret"), await request.json()))
        return web.Response(status=answers.pop(0) if answers else 500)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        status, _ = await _call(max_emu, bot, "POST", "/subscriptions", body={
            "url": f"http://127.0.0.1:{port}/hook", "secret": "s3cret_ok"})
        assert status == 200
        anna = max_emu.add_user("Anna")
        max_emu.user_send(anna, "first")
        await max_emu.wait_for(lambda: len(seen) == 2)
        assert [s for s, _ in seen] == ["s3cret_ok", "s3cret_ok"]
        assert seen[0][1] == seen[1][1] and seen[0][1]["update_type"] == "message_created"
        # polling gets nothing while the webhook is set
        status, body = await _call(max_emu, bot, "GET", "/updates", {"timeout": 0})
        assert body["updates"] == []
        max_emu.user_send(anna, "second")  # every push of it fails
        await max_emu.wait_for(lambda: bot.webhook is None)
        assert len(seen) == 5
        status, body = await _call(max_emu, bot, "GET", "/updates", {"timeout": 0})
        assert [u["message"]["body"]["text"] for u in body["updates"]] == ["second"]
    finally:
        await runner.cleanup()


async def test_the_http_control_api_plays_a_customer(max_emu: MaxEmulator,
                                                     bot: BotRecord) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{max_emu.base_url}/_control/add_user",
                                json={"first_name": "Ivan"}) as resp:
            user = (await resp.json())["result"]
        async with session.post(f"{max_emu.base_url}/_control/user_send",
                                json={"user_id": user["user_id"], "text": "hello"}) as resp:
            assert (await resp.json())["ok"]
        async with session.get(f"{max_emu.base_url}/_control/messages",
                               params={"user_id": user["user_id"]}) as resp:
            [message] = (await resp.json())["result"]
    assert message["body"]["text"] == "hello"
    assert message["recipient"]["user_id"] == bot.user.user_id

"""Telegram webhook mode against the emulator, which pushes updates to relaydesk's `http:`
server with the secret header and pushes again whatever was not answered 200."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bench.ports import free_port
from bots.app import App
from tests.config_cases import load, make, only_problem
from tests.harness import Desk, StartRelay

SECRET = "s3cret-Token_for-tests"
HOOK = "/telegram/hook"


@pytest.fixture
def webhook_desk(desk: Desk) -> Desk:
    desk.emu.options.webhook_allow_http = True
    desk.emu.options.webhook_retry_delay = 0.05
    return desk


async def start_webhook_relay(start_relay: StartRelay, port: int, secret: str = SECRET,
                              max_connections: int = 4) -> App:
    extra = f"http: {{listen: '127.0.0.1:{port}', public_url: 'http://127.0.0.1:{port}'}}"
    webhook = {"mode": "webhook", "webhook": {"path": HOOK, "secret": secret,
                                              "max_connections": max_connections}}
    return await start_relay(extra=extra, telegram=webhook)


async def post(port: int, body: Any, secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{port}{HOOK}", json=body, headers=headers) as answer:
        return answer.status


def relayed(desk: Desk, topic: int) -> list[str]:
    """The customer's messages as copied into the topic (the customer card left out)."""
    texts = [str(m.get("text", m.get("caption"))) for m in desk.bot_posts(topic)]
    return [text for text in texts if not text.startswith("👤")]


def _hello_update(update_id: int, user: Any, message_id: int,
                  text: str) -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": message_id, "date": 1_700_000_000, "text": text,
        "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
        "from": {"id": user.id, "is_bot": False, "first_name": user.first_name}}}


def test_webhook_config_needs_a_secret_and_a_public_url() -> None:
    found = only_problem(make(telegram={"mode": "webhook"},
                              http={"public_url": "https://support.example.com"}))
    assert (found.path, found.message) == ("telegram.webhook",
                                           "is required when telegram.mode is webhook")
    found = only_problem(make(telegram={"mode": "webhook", "webhook": {"secret": "abc"}}))
    assert found.path == "http" and "public_url" in found.message
    found = only_problem(make(telegram={"mode": "webhook", "webhook": {"secret": "a b!"}},
                              http={"public_url": "https://support.example.com"}))
    assert found.path == "telegram.webhook.secret" and "a b!" not in found.render()
    config = load(make(telegram={"mode": "webhook", "webhook": {"secret": "abc"}},
                       http={"public_url": "https://support.example.com"}))
    assert config.telegram.webhook is not None
    assert config.telegram.webhook.path == "/telegram/webhook"
    assert "abc" not in repr(config.telegram)


async def test_customers_and_operators_talk_through_the_webhook(
        webhook_desk: Desk, start_relay: StartRelay) -> None:
    desk, port = webhook_desk, free_port()
    await start_webhook_relay(start_relay, port)
    bot = desk.emu.state.bots[desk.bot_id]
    assert bot.webhook_url == f"http://127.0.0.1:{port}{HOOK}"
    assert bot.webhook_secret == SECRET and bot.webhook_max_connections == 4
    assert {"message", "callback_query", "my_chat_member"} <= bot.allowed_updates
    anna = desk.customer("Anna")
    await anna.says("hello over a webhook")
    topic = await desk.topic_with("hello over a webhook")
    await anna.says("second one")
    await desk.wait(lambda: relayed(desk, topic)[-1:] == ["second one"])
    await desk.operator("Olga").says(topic, "hi Anna")
    await anna.receives("hi Anna")
    assert not any(r.method == "getUpdates" for r in desk.emu.requests)
    assert bot.webhook_pushes and all(status == 200 for _, status in bot.webhook_pushes)
    assert desk.emu.pending_updates() == []


async def test_a_wrong_or_missing_secret_gets_401_and_stores_nothing(
        webhook_desk: Desk, start_relay: StartRelay) -> None:
    desk, port = webhook_desk, free_port()
    app = await start_webhook_relay(start_relay, port)
    assert app.services is not None
    mallory = desk.emu.add_user(first_name="Mallory")
    forged = _hello_update(9001, mallory, 1, "forged")
    assert await post(port, forged, None) == 401
    assert await post(port, forged, "wrong-secret") == 401
    assert await post(port, forged, SECRET[:-1]) == 401
    assert await post(port, "not an update", SECRET) == 400
    assert await app.services.store.find_identity("telegram", str(mallory.id)) is None
    assert desk.topics() == []


async def test_a_redelivered_update_is_relayed_once(webhook_desk: Desk,
                                                     start_relay: StartRelay) -> None:
    """Telegram sends an update again when our 200 was lost on the way back."""
    desk, port = webhook_desk, free_port()
    await start_webhook_relay(start_relay, port)
    bob = desk.customer("Bob")
    desk.emu.webhooks.lose_answers = 2
    await bob.says("only once please")
    topic = await desk.topic_with("only once please")
    await bob.says("and then this")
    await desk.wait(lambda: len(relayed(desk, topic)) >= 2)
    assert relayed(desk, topic) == ["only once please", "and then this"]
    await desk.wait(lambda: not desk.emu.pending_updates())
    pushes = desk.emu.state.bots[desk.bot_id].webhook_pushes
    ids = [uid for uid, _ in pushes]
    assert len(ids) == len(set(ids)) + 2  # the two lost answers: pushed again, relayed once
    assert desk.emu.webhooks.lose_answers == 0


async def test_an_update_that_failed_is_answered_500_and_comes_again(
        webhook_desk: Desk, start_relay: StartRelay) -> None:
    """200 means committed: when handling fails, Telegram is told to send it again."""
    desk, port = webhook_desk, free_port()
    app = await start_webhook_relay(start_relay, port)
    assert app.services is not None
    intake = app.services.intake
    real = intake.relay_customer_to_desk
    failures = []

    async def fails_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise RuntimeError("database went away for a moment")
        return await real(*args, **kwargs)

    intake.relay_customer_to_desk = fails_once  # type: ignore[method-assign]
    anna = desk.customer("Anna")
    await anna.says("first try fails")
    await anna.says("and this one waits its turn")
    topic = await desk.topic_with("first try fails")
    await desk.wait(lambda: len(relayed(desk, topic)) >= 2)
    assert relayed(desk, topic) == [
        "first try fails", "and this one waits its turn"]
    pushes = desk.emu.state.bots[desk.bot_id].webhook_pushes
    assert pushes[0][1] == 500 and pushes[1] == (pushes[0][0], 200)  # pushed again, stored
    assert [status for _, status in pushes[1:]] == [200] * (len(pushes) - 1)


async def test_updates_sent_while_relaydesk_was_down_arrive_when_it_listens(
        webhook_desk: Desk, start_relay: StartRelay) -> None:
    desk, port = webhook_desk, free_port()
    app = await start_webhook_relay(start_relay, port)
    await app.stop()  # the webhook stays set: Telegram keeps the updates and retries
    anna = desk.customer("Anna")
    await anna.says("while you were away")
    await desk.wait(lambda: any(s == 0 for _, s in
                                desk.emu.state.bots[desk.bot_id].webhook_pushes))
    await start_webhook_relay(start_relay, port)
    await desk.topic_with("while you were away")


async def test_polling_mode_removes_a_webhook_left_behind(desk: Desk,
                                                          start_relay: StartRelay) -> None:
    desk.emu.state.bots[desk.bot_id].webhook_url = "https://old.example.com/hook"
    await start_relay()
    assert desk.emu.state.bots[desk.bot_id].webhook_url == ""
    anna = desk.customer("Anna")
    await anna.says("polling again")
    await desk.topic_with("polling again")

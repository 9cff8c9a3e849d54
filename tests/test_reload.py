"""Config reload while customers write: valid (applied), invalid (refused, General told),
a restart-only key (named), and `relaydesk reload` reaching the running process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from bots.app import App
from bots.reload import _notify, changed_keys, signal_running
from storage import models as db
from tests.harness import TOKEN, Desk, StartRelay, relay_config_text
from tests.max_harness import MaxSide, StartMaxRelay

LOOSER = ("{private_chat: {count: 12, per: 100ms}, group: {count: 25, per: 100ms}, "
          "bot: {count: 30, per: 50ms}}")


def general_posts(desk: Desk) -> list[str]:
    return [str(m.get("text")) for m in desk.messages() if m.get("from", {}).get("is_bot")
            and m.get("message_thread_id") is None]


async def started(start_relay: StartRelay, desk: Desk, db_url: str, tmp_path: Path
                  ) -> tuple[App, Path]:
    app = await start_relay(admins=[111])
    path = tmp_path / "config.yaml"
    path.write_text(relay_config_text(db_url, desk.emu.base_url, desk.group, [111]))
    return app, path


async def test_a_valid_file_is_applied_and_restart_keys_are_named(
        db_url: str, desk: Desk, start_relay: StartRelay, tmp_path: Path) -> None:
    app, path = await started(start_relay, desk, db_url, tmp_path)
    assert app.services is not None
    commands = app.services.commands
    reloader = app.reloader(str(path))
    anna = desk.customer("Anna")
    await anna.says("before the reload")
    topic = await desk.topic_with("before the reload")

    path.write_text(relay_config_text(db_url, desk.emu.base_url, desk.group, [111, 222],
                                      limits=LOOSER).replace("poll_timeout: 1s",
                                                             "poll_timeout: 2s"))
    result = await reloader.reload()
    assert result.applied == ["operators.admins", "telegram.limits"]
    assert result.restart == ["telegram.poll_timeout"]
    assert commands.is_admin("222") and commands.is_admin("111")
    await desk.wait(lambda: any("reloaded" in p for p in general_posts(desk)))
    post = next(p for p in general_posts(desk) if "reloaded" in p)
    assert "operators.admins, telegram.limits" in post
    assert "needs a restart to take effect: telegram.poll_timeout" in post
    # Work in flight goes on, paced by the new limits.
    await anna.says("after the reload")
    await desk.wait(lambda: any(m.get("text") == "after the reload"
                                for m in desk.bot_posts(topic)))
    assert reloader.config.operators.admins == [111, 222]
    assert reloader.config.telegram.poll_timeout.total_seconds() == 1  # not applied


async def test_an_invalid_file_changes_nothing_and_general_is_told(
        db_url: str, desk: Desk, start_relay: StartRelay, tmp_path: Path) -> None:
    app, path = await started(start_relay, desk, db_url, tmp_path)
    assert app.services is not None
    reloader = app.reloader(str(path))
    path.write_text(relay_config_text(db_url, desk.emu.base_url, desk.group, [111, "bob"])
                    .replace("token:", "tokn:"))
    result = await reloader.reload()
    assert result.applied == [] and result.problems is not None
    assert not app.services.commands.is_admin("bob")
    await desk.wait(lambda: any("not reloaded" in p for p in general_posts(desk)))
    post = next(p for p in general_posts(desk) if "not reloaded" in p)
    assert "operators.admins[1]" in post and "telegram.tokn" in post
    assert "TEST-relaydesk-token" not in post
    anna = desk.customer("Anna")
    await anna.says("still working")
    await desk.topic_with("still working")


async def test_relaydesk_reload_reaches_the_running_process(
        db_url: str, desk: Desk, start_relay: StartRelay, tmp_path: Path) -> None:
    """SQLite: the pid in the database's lock file gets SIGHUP; PostgreSQL: NOTIFY."""
    app, path = await started(start_relay, desk, db_url, tmp_path)
    heard = asyncio.Event()
    if app.config.storage.kind == "sqlite":
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, heard.set)
        try:
            assert "SIGHUP" in await asyncio.to_thread(signal_running, app.config)
            await asyncio.wait_for(heard.wait(), 10)
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
        return
    from bots.reload import ReloadListener

    listener = ReloadListener(app.config.storage.tortoise_url, heard.set)
    await listener.start()
    try:
        assert "reload" in await _notify(app.config)
        await asyncio.wait_for(heard.wait(), 10)
    finally:
        await listener.stop()


def test_changed_keys_compare_secrets_without_showing_them() -> None:
    from tests.config_cases import load, make

    old = load(make())
    new_token: dict[str, Any] = {"token": "7654321:AAHk3xY2mQ9rT5vW8zB1cD4eF7gH0iJ3kLm"}
    assert changed_keys(old, load(make(telegram=new_token))) == ["telegram.token"]
    assert changed_keys(old, load(make())) == []


FAQ = """
faq:
  - id: parking
    en:
      question: "Is there parking?"
      phrasings: ["where can I park"]
      answer: "{parking}"
canned:
  hello:
    en: "{hello}, {{{{ customer.first_name }}}}!"
"""
SERVICE = """
service:
  targets: {{first_response: {first}, next_response: 1h, business_hours: false}}
  acknowledgement:
    texts: {{en: {{ack_open: "{ack} {{{{ wait }}}}"}}}}
  sweep_interval: 200ms
  title_debounce: "off"
  daily_report: "off"
"""


def _written(path: Path, db_url: str, desk: Desk, extra: str, token: str | None = None
             ) -> None:
    text = relay_config_text(db_url, desk.emu.base_url, desk.group, [111], extra)
    if token is not None:
        text = text.replace(f'token: "{TOKEN}"', f'token: "{token}"')
    path.write_text(text)


async def _told(desk: Desk, customer: Any, start: str) -> str:
    def text() -> str | None:
        return next((str(m["text"]) for m in customer.inbox()
                     if str(m.get("text", "")).startswith(start)), None)

    await desk.wait(lambda: text() is not None)
    return text() or ""


async def test_a_changed_faq_answer_and_canned_reply_are_used_next(
        db_url: str, desk: Desk, start_relay: StartRelay, tmp_path: Path) -> None:
    old = FAQ.format(parking="Parking in the courtyard.", hello="Hello")
    app = await start_relay(old, admins=[111])
    path = tmp_path / "config.yaml"
    anna, olga = desk.customer("Anna"), desk.operator("Olga")
    await anna.says("hi! is there somewhere to park?")
    await anna.receives("Parking in the courtyard.")
    await anna.says("I need a person please, my order is late")
    topic = await desk.topic_with("I need a person please, my order is late")

    _written(path, db_url, desk, FAQ.format(parking="Parking is free on Sundays.",
                                            hello="Good day"))
    result = await app.reloader(str(path)).reload()
    assert result.applied == ["canned", "faq"] and result.restart == []
    await olga.says(topic, "/t hello")
    await anna.receives("Good day, Anna!")
    bob = desk.customer("Bob")
    await bob.says("where can I park?")
    await bob.receives("Parking is free on Sundays.")
    assert not any(m.get("text") == "Parking in the courtyard." for m in bob.inbox())


async def test_changed_targets_and_acknowledgement_apply_to_the_next_conversation(
        db_url: str, desk: Desk, start_relay: StartRelay, tmp_path: Path) -> None:
    app = await start_relay(SERVICE.format(first="1h", ack="Hello!"), admins=[111])
    path = tmp_path / "config.yaml"
    anna = desk.customer("Anna")
    await anna.says("first question")
    assert "1" in await _told(desk, anna, "Hello! ")
    await desk.topic_with("first question")

    _written(path, db_url, desk, SERVICE.format(first="2h", ack="Welcome back!"),
             token="7654321:AAHk3xY2mQ9rT5vW8zB1cD4eF7gH0iJ3kLm")
    result = await app.reloader(str(path)).reload()
    assert result.applied == ["service.acknowledgement", "service.targets"]
    assert result.restart == ["telegram.token"]
    await desk.wait(lambda: any("reloaded" in p for p in general_posts(desk)))
    post = next(p for p in general_posts(desk) if "reloaded" in p)
    assert "service.acknowledgement, service.targets" in post
    assert "needs a restart to take effect: telegram.token" in post
    assert "7654321" not in post  # a secret is named, never shown

    bob = desk.customer("Bob")
    await bob.says("second question")
    assert "2" in await _told(desk, bob, "Welcome back! ")
    await desk.topic_with("second question")
    first = {c.id: c for c in await db.Conversation.all()}
    waits = {first[d.conversation_id].customer_id: d.due_us - d.started_us
             for d in await db.SlaDeadline.filter(kind="first_response")}
    hour = 3600 * 1_000_000
    assert sorted(waits.values()) == [hour, 2 * hour]  # the running one keeps its due time


async def test_renamed_departments_apply_and_a_moved_group_needs_a_restart(
        db_url: str, desk: Desk, start_relay: StartRelay, tmp_path: Path) -> None:
    from tests.test_departments import SALES, TECH, _departments, _groups

    sales, tech = _groups(desk)
    app = await start_relay(_departments(sales, tech), admins=[111])
    path = tmp_path / "config.yaml"
    _written(path, db_url, desk, _departments(sales, tech).replace(SALES, "Orders"))
    reloader = app.reloader(str(path))
    result = await reloader.reload()
    assert result.applied == ["departments"] and result.restart == []
    anna = desk.customer("Anna")
    await anna.says("how much is the yearly plan?")
    question = await anna.receives("Hello! Please choose who can help you:")
    assert [[b["text"] for b in row] for row in question["reply_markup"]["inline_keyboard"]] \
        == [["Orders"], [TECH]]

    elsewhere = desk.emu.create_supergroup(title="Tech 2", forum=True)
    _written(path, db_url, desk, _departments(sales, elsewhere).replace(SALES, "Orders"))
    result = await reloader.reload()
    assert result.applied == [] and result.restart == ["departments"]
    assert reloader.config.departments[1].chat_id == tech  # the running config stays


ABUSE = """
abuse: {{max_messages: 2, per: 1m, combine_every: 200ms{texts}}}
"""


async def test_max_rate_and_slow_down_text_apply_on_max(
        db_url: str, desk: Desk, maxb: MaxSide, start_max_relay: StartMaxRelay,
        tmp_path: Path) -> None:
    app = await start_max_relay(ABUSE.format(texts=""), admins=[111])
    assert app.services is not None and app.services.max is not None
    path = tmp_path / "config.yaml"
    texts = ', texts: {en: {slow_down: "Easy now!"}, ru: {slow_down: "Полегче!"}}'
    _written(path, db_url, desk, maxb.config("{count: 12, per: 1s}")
             + ABUSE.format(texts=texts))
    result = await app.reloader(str(path)).reload()
    assert result.applied == ["abuse.texts", "max.rate"] and result.restart == []
    assert app.services.max.api.rate.count == 12  # the same bucket, paced anew

    ivan = maxb.customer("Ivan")
    for n in range(4):
        ivan.says(f"fast {n}")
    await maxb.emu.wait_for(lambda: any(t in ("Easy now!", "Полегче!") for t in ivan.texts()),
                            10, "the new slow-down text")
    assert not any(t.startswith("You are sending") or t.startswith("Вы пишете")
                   for t in ivan.texts())

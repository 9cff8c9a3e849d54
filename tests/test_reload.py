"""Config reload while customers write: valid (applied), invalid (refused, General told),
a restart-only key (named), and `relaydesk reload` reaching the running process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from bots.app import App
from bots.reload import _notify, changed_keys, signal_running
from tests.harness import Desk, StartRelay, relay_config_text

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

"""A start while the Bot API server is away: one line per try naming the server and the
cause, tries again with backoff until it answers; what the admin must fix is not retried.

The real App and aiogram client against the Telegram emulator, started late on a port
picked before."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from adapters.telegram.session import BotApiSession
from adapters.telegram.startup import DeskSetupError, check_desk
from adapters.unreachable import ServerUnreachable
from bench.ports import free_port
from bots.app import App
from bots.startup import StartupRetry
from sandbox.telegram import TelegramEmulator
from tests.harness import TOKEN, WAIT, Desk, relay_config
from tests.late_start import FAST_RETRY, retry_lines, until_retried

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def late_desk() -> AsyncIterator[Desk]:
    """A desk whose emulator is set up but not listening yet (`late_desk.emu.start(port=…)`)."""
    emu = TelegramEmulator()
    bot = emu.add_bot(token=TOKEN, username="relaydesk_bot")
    group = emu.create_supergroup(title="Support", forum=True, bot_admin=True,
                                  can_manage_topics=True)
    try:
        yield Desk(emu, group, int(bot.id))
    finally:
        await emu.stop()


async def test_a_start_waits_for_a_bot_api_that_comes_up_late(
    db_url: str, late_desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.startup")
    port = free_port()
    app = App(relay_config(db_url, f"http://127.0.0.1:{port}", late_desk.group),
              startup_retry=FAST_RETRY)
    starting = asyncio.create_task(app.start())
    try:
        await until_retried(caplog, 2)
        assert not starting.done()
        await late_desk.emu.start(host="127.0.0.1", port=port)
        await asyncio.wait_for(starting, WAIT)
        anna = late_desk.customer("Anna")
        await anna.says("hello after the outage")
        topic = await late_desk.topic_with("hello after the outage")
        await late_desk.operator("Olga").says(topic, "we are back")
        await anna.receives("we are back")
    finally:
        starting.cancel()
        await app.stop()
    line = retry_lines(caplog)[0]
    assert f"127.0.0.1:{port}" in line and "telegram.api_server" in line
    assert "connection refused" in line
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    assert "answers now" in caplog.text


async def test_a_server_error_at_start_is_retried(
    db_url: str, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    desk.emu.inject_fault("getMe", error_code=502, description="Bad Gateway", times=2)
    desk.emu.inject_fault("getChat", error_code=500, description="Internal Server Error")
    app = App(relay_config(db_url, desk.emu.base_url, desk.group), startup_retry=FAST_RETRY)
    try:
        await asyncio.wait_for(app.start(), WAIT)
        anna = desk.customer("Anna")
        await anna.says("hi")
        await desk.topic_with("hi")
    finally:
        await app.stop()
    lines = retry_lines(caplog)
    assert len(lines) == 3, lines
    assert "Bad Gateway" in lines[0] and "Internal Server Error" in lines[2]
    assert all(desk.emu.base_url.removeprefix("http://") in line for line in lines)


async def test_a_rejected_token_stops_the_start_without_retrying(
    db_url: str, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    desk.emu.inject_fault("getMe", error_code=401, description="Unauthorized", times=None)
    app = App(relay_config(db_url, desk.emu.base_url, desk.group), startup_retry=FAST_RETRY)
    try:
        with pytest.raises(DeskSetupError, match="telegram.token"):
            await app.start()
    finally:
        await app.stop()
    assert not retry_lines(caplog)


async def test_a_stop_while_waiting_ends_the_start_and_closes_everything(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = App(relay_config(db_url, f"http://127.0.0.1:{free_port()}", -1001234567890),
              startup_retry=StartupRetry(base=30, cap=60))
    stop = asyncio.Event()
    starting = asyncio.create_task(app.start_unless_stopped(stop))
    await until_retried(caplog)
    stop.set()  # the start is in a pause of 15 s or more now
    assert await asyncio.wait_for(starting, WAIT) is None
    assert app.services is None
    await app.stop()
    assert not app._db_open


async def _html_server(status: int) -> web.AppRunner:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, text="<html><h1>nginx</h1></html>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


@pytest.mark.parametrize("status", [502, 404])
async def test_an_answer_that_is_not_the_bot_apis_is_classified_by_status(status: int) -> None:
    """A proxy's HTML 502 means the Bot API behind it is away (retry); an HTML 404 means the
    address is not a Bot API at all (the admin must fix it)."""
    runner = await _html_server(status)
    host, port = runner.addresses[0][:2]
    bot = Bot(TOKEN, session=BotApiSession(
        api=TelegramAPIServer.from_base(f"http://{host}:{port}"), timeout=5))
    try:
        expected = ServerUnreachable if status >= 500 else DeskSetupError
        with pytest.raises(expected) as caught:
            await check_desk(bot, -1001234567890)
    finally:
        await bot.session.close()
        await runner.cleanup()
    assert f"{host}:{port}" in str(caught.value) and f"HTTP {status}" in str(caught.value)
    assert TOKEN not in str(caught.value)


async def test_run_waits_for_an_unreachable_server_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`relaydesk run` with the Bot API away: one log line per try, no traceback, and a
    SIGTERM in the middle of the waiting ends it at once with exit code 0."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"""
storage: {{url: "sqlite://{tmp_path}/db.sqlite3"}}
telegram: {{token: "{TOKEN}", api_server: "http://127.0.0.1:{port}"}}
operators: {{chat_id: -1001234567890}}
""", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots", "run", "-c", str(config), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while sum("can't reach" in line for line in lines) < 2:  # it keeps trying
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, f"relaydesk exited: {''.join(lines)}"
            lines.append(line.decode())
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    out = "".join(lines) + rest.decode()
    assert proc.returncode == 0, out
    assert "Traceback" not in out and TOKEN not in out
    assert all(re.match(r"\d{4}-\d\d-\d\d \d", line) for line in out.splitlines()), out
    tries = [line for line in out.splitlines() if "can't reach" in line]
    assert all(f"127.0.0.1:{port}" in line and "connection refused" in line for line in tries)

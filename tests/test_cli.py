"""The `relaydesk` command as an admin meets it: exit codes, messages, graceful stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from sandbox.telegram import TelegramEmulator
from tests.harness import TOKEN

ROOT = Path(__file__).resolve().parents[1]


async def _relaydesk(*args: str, timeout: float = 60) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "TELEGRAM_BOT_TOKEN": ""},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _config(tmp_path: Path, body: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(body, encoding="utf-8")
    return str(path)


async def test_check_accepts_the_shipped_example() -> None:
    code, out = await _relaydesk("check", "-c", str(ROOT / "config.yaml"))
    assert code == 0, out
    assert "OK" in out


async def test_check_reports_every_problem_with_its_key_and_no_secret(tmp_path: Path) -> None:
    secret = "999999:THIS-IS-A-SECRET-TOKEN"
    cfg = _config(tmp_path, f"""
telegram:
  token: "{secret}"
  api_server: "http://127.0.0.1:1"
  poll_timout: 5s
operators:
  chat_id: 12345
""")
    code, out = await _relaydesk("check", "-c", cfg)
    assert code == 2
    assert "operators.chat_id" in out and "-100" in out
    assert "telegram.poll_timout" in out and "poll_timeout" in out  # did you mean …?
    assert secret not in out and "THIS-IS-A-SECRET" not in out


async def test_run_with_a_placeholder_token_suggests_the_sandbox(tmp_path: Path) -> None:
    cfg = _config(tmp_path, """
telegram: {token: "YOUR_TOKEN"}
operators: {chat_id: -1001234567890}
""")
    code, out = await _relaydesk("run", "-c", cfg)
    assert code == 2
    assert "telegram.token" in out and "relaydesk sandbox" in out


@pytest.mark.parametrize(
    ("forum", "admin", "expected"),
    [(False, True, "not a forum"), (True, False, "administrator")],
)
async def test_run_refuses_a_desk_it_cannot_work_in(
    tmp_path: Path, forum: bool, admin: bool, expected: str
) -> None:
    emu = TelegramEmulator()
    await emu.start()
    try:
        emu.add_bot(token=TOKEN)
        group = emu.create_supergroup(title="Desk", forum=forum, bot_admin=admin,
                                      can_manage_topics=admin)
        cfg = _config(tmp_path, f"""
storage: {{url: "sqlite://{tmp_path}/db.sqlite3"}}
telegram: {{token: "{TOKEN}", api_server: "{emu.base_url}"}}
operators: {{chat_id: {group}}}
""")
        code, out = await _relaydesk("run", "-c", cfg)
    finally:
        await emu.stop()
    assert code == 2, out
    assert expected in out and "operators.chat_id" in out
    assert TOKEN not in out


async def test_sigterm_stops_gracefully(tmp_path: Path) -> None:
    emu = TelegramEmulator()
    await emu.start()
    try:
        emu.add_bot(token=TOKEN)
        group = emu.create_supergroup(title="Desk")
        cfg = _config(tmp_path, f"""
storage: {{url: "sqlite://{tmp_path}/db.sqlite3"}}
telegram: {{token: "{TOKEN}", api_server: "{emu.base_url}", poll_timeout: 5s}}
operators: {{chat_id: {group}}}
""")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots", "run", "-c", cfg, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        await emu.wait_for(lambda: any(r.method == "getUpdates" for r in emu.requests), 30)
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        await emu.stop()
    assert proc.returncode == 0, out.decode()
    assert "Traceback" not in out.decode()

"""The benchmark's flood sender (bench/flood_sender.py): a separate process posting one
customer's messages to the Telegram emulator over HTTP."""

from __future__ import annotations

import pytest

from bench.flood_sender import FloodProcess
from sandbox.telegram import TelegramEmulator


def _texts_from(emu: TelegramEmulator, user: int) -> list[str]:
    return [u["message"]["text"] for u in emu.pending_updates()
            if u.get("message", {}).get("chat", {}).get("id") == user]


@pytest.mark.parametrize("batch", [1, 7])  # 7: user_send_many, the last request short
async def test_every_message_reaches_the_bot_api_queue_once(tg: TelegramEmulator,
                                                            batch: int) -> None:
    emu = tg
    emu.add_bot("1:flood-sender-token", username="flood_bot")
    flooder = emu.add_user(first_name="Flooder")
    sender = await FloodProcess.ready(emu.base_url, int(flooder.id), 60, 3, batch)
    try:
        result = await sender.go()
    finally:
        await sender.close()
    assert result["sent"] == 60
    assert result["first_send"] <= result["last_answer"]
    assert sorted(_texts_from(emu, int(flooder.id))) == sorted(f"f {n}" for n in range(60))


async def test_a_sender_whose_benchmark_went_away_sends_nothing(
        tg: TelegramEmulator) -> None:
    emu = tg
    emu.add_bot("1:flood-sender-token", username="flood_bot")
    flooder = emu.add_user(first_name="Flooder")
    sender = await FloodProcess.ready(emu.base_url, int(flooder.id), 60, 3)
    assert sender.proc.stdin is not None
    sender.proc.stdin.close()  # EOF instead of "go"
    assert await sender.proc.wait() == 0
    await sender.close()
    assert _texts_from(emu, int(flooder.id)) == []

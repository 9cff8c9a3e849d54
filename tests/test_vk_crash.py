"""Kill -9 mid-burst with VK customers, restart: nothing is lost either way. The long-poll ts
is kept in the database, so events after the last acknowledged batch are asked for again;
operators' answers carry random_ids, so VK drops a send the killed process already made."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from tests.harness import Desk
from tests.test_crash import _start, _stop, _write_config
from tests.vk_harness import VkSide, vk_config


def _copies(desk: Desk) -> list[dict[str, Any]]:
    return [m for m in desk.messages() if m.get("from", {}).get("is_bot")
            and str(m.get("text", "")).startswith("v")]


async def test_sigkill_mid_vk_burst_loses_nothing(desk: Desk, vk: VkSide, db_url: str,
                                                  tmp_path: Path) -> None:
    config, log = tmp_path / "config.yaml", tmp_path / "relaydesk.log"
    _write_config(config, db_url, desk.emu.base_url, desk.group, vk_config(vk.emu, vk.club))
    people = [vk.customer(f"Crash{i}", "Vk") for i in range(20)]
    expected = {f"v{i:02d}-m{j}" for i in range(20) for j in range(5)}

    async def burst(j: int) -> None:
        await asyncio.gather(*(p.says(f"v{i:02d}-m{j}") for i, p in enumerate(people)))

    proc = await _start(config, log)
    try:
        await vk.emu.wait_for(lambda: vk.emu.calls("longpoll"), timeout=30)
        for j in range(3):
            await burst(j)
        await desk.wait(lambda: len(_copies(desk)) >= 10, timeout=30)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        before = len(_copies(desk))
        await burst(3)
        await burst(4)  # written while the bot is dead: VK keeps the events
        proc = await _start(config, log)
        try:
            await desk.wait(lambda: {m["text"] for m in _copies(desk)} >= expected, timeout=60)
        except TimeoutError:
            print(log.read_text(encoding="utf-8")[-5000:])
            raise
        # now the other way: answers to every customer, killed while they go out
        olga = desk.operator()
        topics = {p.id: next(m["message_thread_id"] for m in _copies(desk)
                             if m["text"] == f"v{i:02d}-m0") for i, p in enumerate(people)}
        await asyncio.gather(*(olga.says(topics[p.id], f"answer {i}")
                               for i, p in enumerate(people)))
        await vk.emu.wait_for(lambda: len(vk.emu.calls("messages.send", ok=True)) >= 3,
                              timeout=30)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        proc = await _start(config, log)
        for i, person in enumerate(people):
            await person.receives(f"answer {i}", timeout=60)
    finally:
        await _stop(proc)

    counts = Counter(m["text"] for m in _copies(desk))
    assert set(counts) == expected, "every message reached the desk"
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= 20, f"{duplicates} duplicates (delivered before kill: {before})"
    for i in range(20):
        mine = [m for m in _copies(desk) if m["text"].startswith(f"v{i:02d}-")]
        assert len({m["message_thread_id"] for m in mine}) == 1
        firsts = list(dict.fromkeys(m["text"] for m in mine))
        assert firsts == sorted(firsts), f"order kept for customer {i}"
    for i, person in enumerate(people):
        # random_id: VK dropped any repeat of a send the killed process had made
        assert [m["text"] for m in person.inbox()] == [f"answer {i}"]
    print(f"\nVK crash test: delivered before kill {before}/100, duplicates {duplicates}")
    assert proc.returncode == 0, log.read_text(encoding="utf-8")[-3000:]

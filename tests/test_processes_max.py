"""Several processes on one PostgreSQL with MAX in long-polling mode: exactly one of them
polls MAX (two pollers would split the update stream between them); when it dies another
takes over from the marker it saved, and nothing is lost or relayed twice."""

from __future__ import annotations

import re
import time
from pathlib import Path

from sandbox.max import MaxEmulator
from tests.harness import Desk
from tests.max_harness import MaxSide
from tests.test_processes import Process, pg_url, processes, until, write_config

__all__ = ["pg_url", "processes"]  # fixtures used below
LEADS_MAX = "now leads max-polling"


async def test_two_processes_one_max_poller_and_takeover(
        pg_url: str, desk: Desk, maxb: MaxSide, tmp_path: Path,
        processes: list[Process]) -> None:
    emu: MaxEmulator = maxb.emu
    config = write_config(tmp_path / "relaydesk.yaml", pg_url, desk.emu.base_url, desk.group,
                          extra=maxb.config())
    for index in range(2):
        processes.append(Process(config, f"p{index}"))
        processes[-1].start()
    await until(lambda: all("relaydesk started" in p.text() for p in processes), 180)
    await until(lambda: sum(LEADS_MAX in p.text() for p in processes) == 1)
    leader = next(p for p in processes if LEADS_MAX in p.text())
    other = next(p for p in processes if p is not leader)
    since = time.monotonic()  # both started (a first start's priming poll is before this)
    await until(lambda: len(_polls(emu, since, time.monotonic())) >= 4)

    customers = [maxb.customer(f"M{i}", None) for i in range(4)]
    for customer in customers:
        customer.says(f"{customer.user.first_name}: one")
    for customer in customers:
        await desk.topic_with(f"{customer.user.first_name}: one", timeout=30)

    killed_at = time.monotonic()
    assert not _overlapping_polls(emu, since, killed_at)  # one poller: one poll at a time
    leader.kill()  # its connection drops: PostgreSQL frees the role
    for customer in customers:
        customer.says(f"{customer.user.first_name}: two")
    await until(lambda: LEADS_MAX in other.text(), 30)
    duplicates = 0
    for customer in customers:
        name = customer.user.first_name
        topic = await desk.topic_with(f"{name}: one")
        await desk.wait(lambda topic=topic, name=name: f"{name}: two" in _texts(desk, topic),
                        timeout=30)
        texts = _texts(desk, topic)
        once = [t for i, t in enumerate(texts) if i == 0 or texts[i - 1] != t]
        assert once == [f"{name}: one", f"{name}: two"]  # all there, in order
        duplicates += len(texts) - len(once)
    # Only copies the killed process sent but could not mark done are sent again: one
    # poller means every MAX update was taken in once.
    reaped = sum(int(n) for p in processes for n in re.findall(
        r"outbox: (\d+) deliveries of a process that died are due again", p.text()))
    assert duplicates <= reaped
    assert not [r for r in emu.requests if r.status == 429]


def _texts(desk: Desk, topic: int) -> list[str]:
    """The customer's messages in the topic (the card and bot notices left out)."""
    return [str(m.get("text")) for m in desk.bot_posts(topic)
            if str(m.get("text", "")).startswith("M")]


def _polls(emu: MaxEmulator, since: float, before: float) -> list[tuple[float, float]]:
    """The `GET /updates` requests started after `since` and answered before `before`."""
    return sorted((r.time, r.time + r.duration) for r in emu.requests
                  if r.method == "GET /updates" and r.time > since
                  and r.time + r.duration < before)


def _overlapping_polls(emu: MaxEmulator, since: float, before: float
                       ) -> list[tuple[float, float]]:
    """Pairs of long polls that were open at once (two processes polling)."""
    polls = _polls(emu, since, before)
    return [(a, b) for (a, end), (b, _) in zip(polls, polls[1:], strict=False) if b < end]

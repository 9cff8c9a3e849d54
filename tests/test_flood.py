"""Bursts and flood limits: every message exactly once, in order, never inside a window."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

from tests.harness import Desk


def _copies(desk: Desk, prefix: str) -> list[dict]:
    return [m for m in desk.messages() if m.get("from", {}).get("is_bot")
            and str(m.get("text", "")).startswith(prefix)]


async def test_burst_of_50_new_customers_times_5(desk: Desk, relay) -> None:
    customers = [desk.customer(f"Burst{i}") for i in range(50)]

    async def write(i: int) -> None:
        for j in range(5):  # one customer's messages arrive in order, customers at once
            await customers[i].says(f"b{i:02d}-{j}")

    await asyncio.gather(*(write(i) for i in range(50)))
    await desk.wait(lambda: len(_copies(desk, "b")) >= 250, timeout=60)
    copies = _copies(desk, "b")
    counts = Counter(m["text"] for m in copies)
    assert len(counts) == 250 and set(counts.values()) == {1}, "every message exactly once"
    by_customer: dict[str, list[dict]] = defaultdict(list)
    for m in copies:
        by_customer[m["text"][:3]].append(m)
    topics = set()
    for key, msgs in by_customer.items():
        assert [m["text"] for m in msgs] == [f"{key}-{j}" for j in range(5)], "order kept"
        assert len({m["message_thread_id"] for m in msgs}) == 1
        topics.add(msgs[0]["message_thread_id"])
    assert len(topics) == 50
    live = [t for t in desk.topics() if not t.get("deleted")]
    assert len(live) == 50, "one topic per customer, none extra"


LIMITS = ("{private_chat: {count: 3, per: 1s}, group: {count: 20, per: 2s}, "
          "bot: {count: 30, per: 1s}}")


async def test_rate_limits_on_everything_delivered_no_violations(desk: Desk, start_relay) -> None:
    desk.emu.set_rate_limits(enabled=True, private=(3, 1.0), group=(20, 2.0), bot=(30, 1.0))
    await start_relay(extra="", limits=LIMITS)
    customers = [desk.customer(f"Flood{i}") for i in range(10)]
    for j in range(3):
        await asyncio.gather(*(c.says(f"f{i}-{j}") for i, c in enumerate(customers)))
    await desk.wait(lambda: len(_copies(desk, "f")) >= 30, timeout=60)
    olga = desk.operator()
    topic = await desk.topic_with("f0-0")
    for k in range(8):  # faster than 3 per second to one customer
        await olga.says(topic, f"answer {k}")
    await desk.wait(lambda: sum(str(m.get("text", "")).startswith("answer")
                                for m in customers[0].inbox()) >= 8, timeout=30)
    assert [m["text"] for m in customers[0].inbox() if m["text"].startswith("answer")] == [
        f"answer {k}" for k in range(8)]
    assert desk.emu.violations == []
    assert not [r for r in desk.emu.requests if r.error_code == 429], \
        "paced by the modelled limits: not even one 429"


async def test_429_is_honoured_and_nothing_is_sent_inside_retry_after(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    desk.emu.inject_fault("copyMessage", error_code=429, retry_after=2, chat_id=desk.group,
                          description="Too Many Requests: retry after 2")
    store = relay.services.store
    wakeups = 0
    original = store.next_due_at

    async def counted(*args, **kwargs):
        nonlocal wakeups
        wakeups += 1
        return await original(*args, **kwargs)

    store.next_due_at = counted  # type: ignore[method-assign]
    await anna.says("after flood")
    await desk.topic_with("after flood", timeout=15)
    # The outbox slept through the 2 s pause (woken by timers and commits), it did not spin.
    assert wakeups < 30, wakeups
    group_calls = [r for r in desk.emu.requests if r.chat_id == desk.group]
    flood = next(r for r in group_calls if r.error_code == 429)
    window_end = flood.time + flood.duration + 2.0
    inside = [r for r in group_calls if flood.time + flood.duration < r.time < window_end]
    assert inside == [], f"sent inside retry_after: {[r.method for r in inside]}"
    assert topic == await desk.topic_with("after flood")
    assert len([m for m in desk.bot_posts(topic) if m.get("text") == "after flood"]) == 1

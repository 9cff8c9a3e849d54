"""Each department's group has its own posting budget (SQLite and PostgreSQL): 40 new
customers in sales and then 5 in tech, with the group limit modelled on both sides (the
emulator counts violations). Tech's first messages do not wait behind sales' backlog: they
are all in their topics while sales is still working through its own, and the two groups
together post faster than one group may."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.harness import Desk, StartRelay
from tests.test_departments import SALES, TECH, _choose, _departments, _groups

# 10 posts a second per group: sales' backlog (4 posts per new customer: the topic, the
# card, the department line, the message) takes 16 s; tech's 20 posts fit in two seconds.
LIMITS = ("{private_chat: {count: 5, per: 1s}, group: {count: 10, per: 1s}, "
          "bot: {count: 30, per: 1s}}")


def _firsts(desk: Desk, group: int, prefix: str) -> list[dict[str, Any]]:
    return [m for m in desk.emu.messages(group) if m.get("from", {}).get("is_bot")
            and str(m.get("text", "")).startswith(prefix)]


async def test_a_flood_in_sales_does_not_hold_tech_back(desk: Desk,
                                                        start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    desk.emu.set_rate_limits(enabled=True, private=(5, 1.0), group=(10, 1.0), bot=(30, 1.0))
    await start_relay(_departments(sales, tech), limits=LIMITS)

    async def arrives(name: str, label: str) -> None:
        customer = desk.customer(name)
        await customer.says(f"{name} needs help")
        question = await customer.receives("Hello! Please choose who can help you:")
        await _choose(desk, customer, question, label)

    await asyncio.gather(*(arrives(f"s{i:02d}", SALES) for i in range(40)))
    await asyncio.gather(*(arrives(f"t{i}", TECH) for i in range(5)))
    await desk.wait(lambda: len(_firsts(desk, tech, "t")) == 5, timeout=30)
    in_sales = len(_firsts(desk, sales, "s"))
    assert in_sales < 40, "tech's first posts went out while sales still had its backlog"
    assert len({m["message_thread_id"] for m in _firsts(desk, tech, "t")}) == 5
    assert desk.emu.violations == []
    # The proof that the budgets are separate, from the emulator's log: while both worked,
    # the two groups together got more posts in one window than one group's budget allows.
    calls = sorted(r.time for r in desk.emu.requests
                   if r.ok and r.chat_id in (sales, tech, str(sales), str(tech)))
    busiest = max(sum(1 for t in calls if start <= t < start + 1.0) for start in calls)
    assert busiest > 10


# A group's window is longer than the test takes when nothing waits for it to reopen. 22
# posts per window: tech's 5 customers (4 posts each) fit in one; sales' budget runs out
# with its sixth customer half done (22 = 5 × 4 + 2: the topic and the card sent, the rest
# not).
SLOW_LIMITS = ("{private_chat: {count: 5, per: 1s}, group: {count: 22, per: 20s}, "
               "bot: {count: 30, per: 1s}}")


async def test_a_lane_waiting_for_its_groups_window_holds_no_worker_of_another_group(
        desk: Desk, start_relay: StartRelay) -> None:
    """One outbox worker for every group: a sales lane that runs out of sales' budget in
    the middle of its customer's posts (topic and card sent, the rest not) gives the worker
    back instead of waiting out sales' window, so tech's 5 customers are all in their topics
    before sales has posted anything beyond its first window. Told by the order of the
    emulator's calls, not by how long anything took."""
    sales, tech = _groups(desk)
    desk.emu.set_rate_limits(enabled=True, private=(5, 1.0), group=(22, 20.0), bot=(30, 1.0))
    await start_relay("  workers: 1\n" + _departments(sales, tech), limits=SLOW_LIMITS)

    async def arrives(name: str, label: str) -> None:
        customer = desk.customer(name)
        await customer.says(f"{name} needs help")
        question = await customer.receives("Hello! Please choose who can help you:")
        await _choose(desk, customer, question, label)

    await asyncio.gather(*(arrives(f"s{i:02d}", SALES) for i in range(40)))
    await asyncio.gather(*(arrives(f"t{i}", TECH) for i in range(5)))
    # Generous: failing, tech's posts wait for sales' window (20 s) to reopen first.
    await desk.wait(lambda: len(_firsts(desk, tech, "t")) == 5, timeout=60)
    to = {str(sales): "sales", str(tech): "tech"}
    calls = [to[str(r.chat_id)] for r in sorted(desk.emu.requests, key=lambda r: r.time)
             if r.ok and str(r.chat_id) in to and not r.method.startswith("get")]
    last_tech = max(i for i, group in enumerate(calls) if group == "tech")
    assert calls[:last_tech].count("sales") <= 22, \
        "tech's posts waited until sales' window reopened"
    assert calls.count("tech") == 20  # topic, card, department line and message, 5 times
    assert len({m["message_thread_id"] for m in _firsts(desk, tech, "t")}) == 5
    assert desk.emu.violations == []

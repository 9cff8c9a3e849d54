"""Surge handling with departments in their own forum groups (SQLite and PostgreSQL): every
group with its own budget keeps its own spare topics, a new customer's first posts land in
a spare of their department's group, and a chatty customer's texts are coalesced by the
pressure on their own group's budget, not on another's, and the surge notice goes to that
group's General."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bots.app import App
from core.delivery.spares import SPARE_TITLE
from storage import models as db
from tests.harness import FAST_LIMITS, Desk, relay_config
from tests.test_departments import SALES, TECH, _choose, _departments, _groups

SPARES = 2
# Telegram's shape, the window shrunk: 4 posts a second into each group.
TIGHT = ("{private_chat: {count: 10, per: 1s}, group: {count: 4, per: 1s}, "
         "bot: {count: 30, per: 1s}}")
FLOOD_LIMITS = ("{private_chat: {count: 5, per: 1s}, group: {count: 10, per: 1s}, "
                "bot: {count: 30, per: 1s}}")
LABEL = re.compile(r"^\d\d:\d\d:\d\d$")

StartSurge = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_surge(db_url: str, desk: Desk) -> AsyncIterator[StartSurge]:
    apps: list[App] = []

    async def start(sales: int, tech: int, limits: str = FAST_LIMITS) -> App:
        config = relay_config(db_url, desk.emu.base_url, desk.group, limits=limits,
                              extra=_departments(sales, tech))
        config = config.model_copy(update={"outbox": config.outbox.model_copy(
            update={"spare_topics": SPARES, "coalesce": True})})
        app = App(config)
        await app.start()
        apps.append(app)
        for group in (desk.group, sales, tech):
            await desk.wait(lambda g=group: len(spares_in(desk, g)) == SPARES)  # type: ignore[misc]
        return app

    try:
        yield start
    finally:
        for app in apps:
            await app.stop()


def spares_in(desk: Desk, group: int) -> list[int]:
    return [t["message_thread_id"] for t in desk.emu.topics(group) if t["name"] == SPARE_TITLE]


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text", m.get("caption", "")))


def posts_in(desk: Desk, group: int, part: str) -> list[dict[str, Any]]:
    return [m for m in desk.emu.messages(group) if m.get("from", {}).get("is_bot")
            and part in _text(m)]


def title_of(desk: Desk, group: int, topic: int) -> str:
    return str(next(t["name"] for t in desk.emu.topics(group)
                    if t["message_thread_id"] == topic))


async def arrives(desk: Desk, name: str, text: str, label: str) -> Any:
    customer = desk.customer(name)
    await customer.says(text)
    question = await customer.receives("Hello! Please choose who can help you:")
    await _choose(desk, customer, question, label)
    return customer


async def test_each_department_group_keeps_its_own_spares(
        desk: Desk, start_surge: StartSurge) -> None:
    sales, tech = _groups(desk)
    await start_surge(sales, tech)
    made = {g: len(desk.emu.topics(g)) for g in (desk.group, sales, tech)}
    sales_spares, tech_spares = set(spares_in(desk, sales)), set(spares_in(desk, tech))

    await arrives(desk, "Anna", "how much is the yearly plan?", SALES)
    await arrives(desk, "Boris", "the app crashes", TECH)
    await desk.wait(lambda: posts_in(desk, sales, "how much is the yearly plan?"))
    await desk.wait(lambda: posts_in(desk, tech, "the app crashes"))
    [anna_post] = posts_in(desk, sales, "how much is the yearly plan?")
    [boris_post] = posts_in(desk, tech, "the app crashes")
    # Each customer took a spare of their own department's group, the card heading the text.
    assert anna_post["message_thread_id"] in sales_spares
    assert boris_post["message_thread_id"] in tech_spares
    # The card (with the department's hand-over context) heads the topic.
    [anna_card] = posts_in(desk, sales, f"Department: {SALES}")
    [boris_card] = posts_in(desk, tech, f"Department: {TECH}")
    assert anna_card["message_thread_id"] == anna_post["message_thread_id"]
    assert boris_card["message_thread_id"] == boris_post["message_thread_id"]
    # Titled once the group is idle; each group replaced its spare, the operator group
    # (nobody's topic) kept its own untouched.
    anna_topic, boris_topic = anna_post["message_thread_id"], boris_post["message_thread_id"]
    await desk.wait(lambda: title_of(desk, sales, anna_topic) != SPARE_TITLE
                    and title_of(desk, tech, boris_topic) != SPARE_TITLE)
    assert "Anna" in title_of(desk, sales, anna_topic)
    assert "Boris" in title_of(desk, tech, boris_topic)
    await desk.wait(lambda: len(spares_in(desk, sales)) == SPARES
                    and len(spares_in(desk, tech)) == SPARES)
    assert len(desk.emu.topics(sales)) == made[sales] + 1
    assert len(desk.emu.topics(tech)) == made[tech] + 1
    assert len(desk.emu.topics(desk.group)) == made[desk.group]
    assert posts_in(desk, desk.group, "Anna") == [] and posts_in(desk, desk.group, "Boris") == []
    conversations = {c.desk_chat: c.topic_id for c in await db.Conversation.all()}
    assert conversations == {str(sales): anna_topic, str(tech): boris_topic}
    assert await db.GroupSpare.filter(conversation_id__isnull=False).count() == 0


async def test_texts_are_coalesced_by_the_pressure_on_their_own_group(
        desk: Desk, start_surge: StartSurge) -> None:
    sales, tech = _groups(desk)
    desk.emu.set_rate_limits(enabled=True, private=(10, 1.0), group=(4, 1.0), bot=(30, 1.0))
    await start_surge(sales, tech, limits=TIGHT)
    anna = await arrives(desk, "Anna", "first question", SALES)
    await desk.wait(lambda: posts_in(desk, sales, "first question"))
    topic = posts_in(desk, sales, "first question")[0]["message_thread_id"]
    # Sales' budget spent by a crowd of its customers, Anna writes on meanwhile.
    for n in range(6):
        await arrives(desk, f"s{n}", f"s{n} needs help", SALES)
    burst = [f"anna part {n}" for n in range(6)]
    for text in burst:
        await anna.says(text)
    await desk.wait(lambda: all(posts_in(desk, sales, t) for t in burst), timeout=30)
    posts = {m["message_id"]: m for t in burst for m in posts_in(desk, sales, t)}
    assert len(posts) < len(burst), "the held texts shared posts"
    parts = [line for m in posts.values() for line in _text(m).split("\n")]
    assert all(t in parts for t in burst)
    assert all(m["message_thread_id"] == topic for m in posts.values())
    assert any(LABEL.match(line) for line in parts), "each part is marked with its time"
    # Tech's budget was idle all along: Boris's texts there are one post each.
    boris = await arrives(desk, "Boris", "tech question", TECH)
    await desk.wait(lambda: posts_in(desk, tech, "tech question"))
    for text in ("boris one", "boris two"):
        await boris.says(text)
        await desk.wait(lambda t=text: posts_in(desk, tech, t))  # type: ignore[misc]
    assert [_text(m) for m in posts_in(desk, tech, "boris ")] == ["boris one", "boris two"]
    # The surge was sales' own: its General was told, the other groups' were not.
    await desk.wait(lambda: general(desk, sales, "🌊 Surge"), timeout=30)
    assert general(desk, desk.group, "Surge") == [] and general(desk, tech, "Surge") == []
    assert desk.emu.violations == []


def general(desk: Desk, group: int, part: str) -> list[dict[str, Any]]:
    return [m for m in desk.emu.messages(group) if m.get("from", {}).get("is_bot")
            and not m.get("message_thread_id") and part in _text(m)]


async def test_a_surge_in_sales_does_not_hold_tech_back(
        desk: Desk, start_surge: StartSurge) -> None:
    """Workers are shared by every group: lanes waiting for sales' budget give them back, so
    tech's new customers are posted while sales' backlog lasts (10 posts a second each)."""
    sales, tech = _groups(desk)
    desk.emu.set_rate_limits(enabled=True, private=(5, 1.0), group=(10, 1.0), bot=(30, 1.0))
    await start_surge(sales, tech, limits=FLOOD_LIMITS)

    await asyncio.gather(*(arrives(desk, f"s{i:02d}", f"s{i:02d} needs help", SALES)
                           for i in range(40)))
    await asyncio.gather(*(arrives(desk, f"t{i}", f"t{i} needs help", TECH)
                           for i in range(5)))
    await desk.wait(lambda: len(posts_in(desk, tech, " needs help")) == 5, timeout=30)
    assert len(posts_in(desk, sales, " needs help")) < 40, \
        "tech's first posts went out while sales still had its backlog"
    await desk.wait(lambda: len(posts_in(desk, sales, " needs help")) == 40, timeout=60)
    assert desk.emu.violations == []

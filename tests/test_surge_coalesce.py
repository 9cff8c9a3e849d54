"""Surge, coalescing under pressure: a chatty customer's texts held while the group's
budget is spent go out as one post, and every part keeps its link. End to end against the
Telegram emulator with the group limit modelled (short windows), SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bots.app import App
from storage import models as db
from tests.harness import FAST_LIMITS, Desk, relay_config

# Telegram's shape, the window shrunk: 4 posts a second into the group.
TIGHT = ("{private_chat: {count: 10, per: 1s}, group: {count: 4, per: 1s}, "
         "bot: {count: 30, per: 1s}}")
LABEL = re.compile(r"^\d\d:\d\d:\d\d$")

StartRelay = Callable[..., Awaitable[App]]


@pytest.fixture
async def start(db_url: str, desk: Desk) -> AsyncIterator[StartRelay]:
    apps: list[App] = []

    async def run(limits: str = TIGHT, spares: int = 0) -> App:
        if limits == TIGHT:
            desk.emu.set_rate_limits(enabled=True, private=(10, 1.0), group=(4, 1.0),
                                     bot=(30, 1.0))
        config = relay_config(db_url, desk.emu.base_url, desk.group, limits=limits)
        config = config.model_copy(update={"outbox": config.outbox.model_copy(
            update={"coalesce": True, "spare_topics": spares})})
        app = App(config)
        await app.start()
        apps.append(app)
        return app

    try:
        yield run
    finally:
        for app in apps:
            await app.stop()


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text", m.get("caption", "")))


def holding(desk: Desk, topic: int, part: str) -> dict[str, Any]:
    """The bot post in the topic whose text has `part` as one of its parts."""
    [post] = [m for m in desk.bot_posts(topic) if part in _text(m).split("\n")]
    return post


async def test_a_burst_under_pressure_is_coalesced_and_every_part_keeps_its_link(
        desk: Desk, start: StartRelay) -> None:
    await start()
    anna = desk.customer("Anna")
    first = await anna.says("hello")
    topic = await desk.topic_with("hello")
    burst = [await anna.says(f"part {i}") for i in range(8)]
    await desk.wait(lambda: all(any(f"part {i}" in _text(m).split("\n")
                                    for m in desk.bot_posts(topic)) for i in range(8)),
                    timeout=30)
    posts = desk.bot_posts(topic)
    texts = [line for m in posts for line in _text(m).split("\n")]
    assert sorted(t for t in texts if t.startswith("part")) == [f"part {i}" for i in range(8)]
    joined = [m for m in posts if sum(t.startswith("part") for t in _text(m).split("\n")) > 1]
    assert joined, "the texts held while the budget was spent went out together"
    assert len(posts) < 2 + 8  # card, hello and fewer posts than parts
    lines = _text(joined[0]).split("\n")
    assert all(LABEL.match(lines[i - 1]) for i, t in enumerate(lines) if t.startswith("part"))
    assert first["text"] == "hello"

    # An operator's reply to a coalesced post answers its last part.
    post = joined[0]
    last = [t for t in _text(post).split("\n") if t.startswith("part")][-1]
    olga = desk.operator("Olga")
    await olga.says(topic, "got all of it", reply_to=post["message_id"])
    got = await anna.receives("got all of it")
    assert got["reply_to_message"]["text"] == last

    # An edit of a middle part renders the post again.
    middle = [t for t in _text(post).split("\n") if t.startswith("part")][0]
    sent = next(m for m in burst if m["text"] == middle)
    await anna.edits(sent["message_id"], text=f"{middle} (fixed)")
    await desk.wait(lambda: f"{middle} (fixed)" in _text(
        desk.emu.message(desk.group, post["message_id"]) or {}).split("\n"))
    again = _text(desk.emu.message(desk.group, post["message_id"]) or {}).split("\n")
    assert last in again, "the other parts stay"

    # A customer's reply to a middle part threads onto the post that holds it.
    await anna.says("see above", reply_to=sent["message_id"])
    await desk.wait(lambda: desk.find("see above") is not None, timeout=30)
    threaded = desk.find("see above")
    assert threaded is not None
    assert threaded["reply_to_message"]["message_id"] == post["message_id"]
    assert desk.emu.violations == []


async def test_at_idle_every_message_is_its_own_post(desk: Desk, start: StartRelay) -> None:
    await start(limits=FAST_LIMITS)
    anna = desk.customer("Anna")
    await anna.says("one")
    topic = await desk.topic_with("one")
    await asyncio.gather(anna.says("two"), anna.says("three"))
    await desk.topic_with("three")
    await desk.topic_with("two")
    assert [_text(m) for m in desk.bot_posts(topic)][1:] == ["one", "two", "three"]


async def test_a_new_customers_burst_under_pressure_is_one_post_with_the_card(
        desk: Desk, start: StartRelay) -> None:
    await start(spares=2)
    await desk.wait(lambda: sum(t["name"] == "💬 New conversation"
                                for t in desk.topics()) == 2, timeout=15)
    # Another customer spends the budget; Anna's three texts wait for it.
    bob = desk.customer("Bob")
    await asyncio.gather(*(bob.says(f"bob {i}") for i in range(4)))
    anna = desk.customer("Anna")
    sent = [await anna.says(f"anna {i}") for i in range(3)]
    await desk.wait(lambda: all(any(f"anna {i}" in _text(m).split("\n")
                                    for m in desk.messages()) for i in range(3)), timeout=30)
    topic = int(next(m for m in desk.messages() if "anna 0" in _text(m).split("\n")
                     and m.get("from", {}).get("is_bot"))["message_thread_id"])
    posts = desk.bot_posts(topic)
    assert "Anna" in _text(posts[0]) and "Customer #" in _text(posts[0])
    assert len(posts) <= 2, "the card and the held texts: one or two posts, not four"
    olga = desk.operator("Olga")
    await olga.says(topic, "hi Anna", reply_to=posts[-1]["message_id"])
    got = await anna.receives("hi Anna")
    assert got["reply_to_message"]["message_id"] == sent[-1]["message_id"]
    assert desk.emu.violations == []


async def topic_holding(desk: Desk, line: str, timeout: float = 10.0) -> int:
    """The topic of the bot post that has `line` as one of its lines."""
    def found() -> list[dict[str, Any]]:
        return [m for m in desk.messages() if m.get("from", {}).get("is_bot")
                and line in _text(m).split("\n")]

    await desk.wait(found, timeout)
    return int(found()[0]["message_thread_id"])


def _locations(desk: Desk, topics: list[int]) -> int:
    return sum(1 for t in topics for m in desk.bot_posts(t) if "location" in m)


async def test_a_customer_awaiting_a_first_answer_goes_before_answered_ones_backlogs(
        desk: Desk, start: StartRelay) -> None:
    await start(spares=2)  # surge handling as operators run it: a new customer costs one send
    olga = desk.operator("Olga")
    answered, topics = [desk.customer(f"Known{i}") for i in range(4)], []
    for i, person in enumerate(answered):
        await person.says(f"hi {i}")
        topics.append(await topic_holding(desk, f"hi {i}"))
        await olga.says(topics[-1], f"Hello {i}")
        await person.receives(f"Hello {i}")
    await asyncio.sleep(1.1)  # the window is free again
    # Answered customers share locations (never coalesced): a backlog
    # of twelve posts at four a second.
    for n in range(3):
        for person in answered:
            await person.sends("location", latitude=55.0 + n, longitude=37.0)
    await desk.wait(lambda: _locations(desk, topics) >= 2, timeout=30)
    carl = desk.customer("Carl")
    await carl.says("my first question")
    # Counted from when intake stored Carl's message (a loaded machine may take a while to
    # get there; what went out meanwhile was not his to take).
    for _ in range(400):
        # Four greetings, twelve locations, then Carl's.
        if await db.Message.filter(kind="customer").count() >= 17:
            break
        await asyncio.sleep(0.01)
    before = _locations(desk, topics)
    await topic_holding(desk, "my first question", timeout=30)
    after = _locations(desk, topics)
    # Carl went at the first free place after he wrote (one post may have been on the
    # wire already, one window's worth of the others' was not his to take).
    assert after - before <= 2, (before, after)
    assert after < 12, "not after the answered customers' backlog"
    await desk.wait(lambda: _locations(desk, topics) == 12, timeout=30)
    assert desk.emu.violations == []


def _general(desk: Desk, part: str) -> list[dict[str, Any]]:
    return [m for m in desk.messages() if m.get("from", {}).get("is_bot")
            and not m.get("message_thread_id") and part in _text(m)]


async def test_general_is_told_when_a_surge_starts_and_ends_and_report_lists_it(
        desk: Desk, start: StartRelay) -> None:
    await start()
    people = [desk.customer(f"Wave{i}") for i in range(6)]
    await asyncio.gather(*(p.says(f"wave {i}") for i, p in enumerate(people)))
    await desk.wait(lambda: _general(desk, "🌊 Surge"),
                    timeout=30)
    [notice] = _general(desk, "🌊 Surge")
    assert "posts are waiting for the group's budget" in _text(notice)
    await desk.wait(lambda: _general(desk, "✅ Surge over"), timeout=60)
    for i in range(6):
        await topic_holding(desk, f"wave {i}")
    assert len(_general(desk, "🌊 Surge")) == 1, "one notice per surge, not one per look"
    olga = desk.operator("Olga")
    await desk.emu.user_send(olga.user, desk.group, text="/report today")
    await desk.wait(lambda: _general(desk, "🌊 Surges"), timeout=30)
    [report] = _general(desk, "🌊 Surges")
    assert "peak" in _text(report) and "waiting" in _text(report)
    assert desk.emu.violations == []


async def test_past_the_48_hour_edit_window_an_edit_posts_a_marked_correction(
        desk: Desk, start: StartRelay) -> None:
    """Telegram lets a bot edit its message for 48 hours: an edit of a part of an older
    coalesced post can't render the post again, so a marked correction answers it."""
    await start()
    anna = desk.customer("Anna")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    burst = [await anna.says(f"part {i}") for i in range(8)]
    await desk.wait(lambda: all(any(f"part {i}" in _text(m).split("\n")
                                    for m in desk.bot_posts(topic)) for i in range(8)),
                    timeout=30)
    post = next(m for m in desk.bot_posts(topic)
                if sum(t.startswith("part") for t in _text(m).split("\n")) > 1)
    parts = [t for t in _text(post).split("\n") if t.startswith("part")]
    middle = parts[0]
    sent = next(m for m in burst if m["text"] == middle)
    # The post was made 49 hours ago, as far as relaydesk knows (once it recorded the parts).
    rows: list[db.CoalescedPart] = []
    for _ in range(100):
        rows = await db.CoalescedPart.filter(post_id=str(post["message_id"]))
        if len(rows) == len(parts):
            break
        await asyncio.sleep(0.05)
    assert len(rows) == len(parts)
    for row in rows:
        row.posted_us -= 49 * 3600 * 1_000_000
        await row.save(update_fields=["posted_us"])
    before = len(desk.bot_posts(topic))
    await anna.edits(sent["message_id"], text=f"{middle} (fixed)")
    await desk.wait(lambda: any(f"{middle} (fixed)" in _text(m).split("\n")
                                for m in desk.bot_posts(topic)[before:]), timeout=30)
    [correction] = desk.bot_posts(topic)[before:]
    assert _text(correction).startswith("✏️ Anna edited a message:")
    assert correction["reply_to_message"]["message_id"] == post["message_id"]
    lines = _text(correction).split("\n")
    assert LABEL.match(lines[lines.index(f"{middle} (fixed)") - 1]), "the part keeps its time"
    # The combined post itself is left as it was (it can't be edited any more).
    kept = _text(desk.emu.message(desk.group, post["message_id"]) or {}).split("\n")
    assert middle in kept and f"{middle} (fixed)" not in kept
    assert desk.emu.violations == []

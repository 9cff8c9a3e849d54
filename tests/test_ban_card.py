"""A ban on the customer card (SQLite and PostgreSQL, against the Telegram emulator): /ban
renders the posted card again showing the ban, /unban renders it back, and a timed ban's
end does too by itself; also where the card shares the topic's first post with the
customer's first message (surge handling)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bots.app import App
from tests.harness import Desk, relay_config
from tests.test_bans import SERVICE, group_admin, suppressed, until
from tests.test_csat import MovableClock, is_closed, topic_posts
from tests.test_surge_first_post import topic_with

BANNED = "🚫 Banned "


def _text(message: dict[str, Any] | None) -> str:
    return str((message or {}).get("text", (message or {}).get("caption", "")))


def now_shown(desk: Desk, post: dict[str, Any]) -> str:
    """The post as the group shows it now (edits included)."""
    return _text(desk.emu.message(desk.group, post["message_id"]))


@pytest.fixture
async def apps() -> AsyncIterator[list[App]]:
    started: list[App] = []
    try:
        yield started
    finally:
        for app in started:
            await app.stop()


async def _start(apps: list[App], db_url: str, desk: Desk, admins: list[int], *,
                 spares: int = 0, clock: MovableClock | None = None) -> App:
    config = relay_config(db_url, desk.emu.base_url, desk.group, admins, SERVICE)
    if spares:
        config = config.model_copy(update={
            "outbox": config.outbox.model_copy(update={"spare_topics": spares})})
    app = App(config, clock) if clock is not None else App(config)
    await app.start()
    apps.append(app)
    return app


async def test_ban_and_unban_render_the_card_again(db_url: str, desk: Desk,
                                                   apps: list[App]) -> None:
    olga = group_admin(desk, "Olga")
    await _start(apps, db_url, desk, [olga.user.id])
    anna = desk.customer("Anna")
    await anna.says("cheap followers here")
    topic = await desk.topic_with("cheap followers here")
    card = desk.bot_posts(topic)[0]
    assert "👤" in card["text"] and BANNED not in card["text"]

    await olga.says(topic, "/ban <b>spam</b> links")
    await desk.wait(lambda: BANNED in now_shown(desk, card))
    shown = desk.emu.message(desk.group, card["message_id"])
    assert shown is not None
    assert "🚫 Banned until /unban by Olga — <b>spam</b> links" in shown["text"]  # as text
    assert shown["reply_markup"]["inline_keyboard"], "the card keeps its buttons"
    await desk.wait(lambda: is_closed(desk, topic))
    await anna.says("hello??")
    await until(lambda: suppressed(1), "the message during the ban suppressed")

    await olga.says(topic, "/unban")
    await desk.wait(lambda: BANNED not in now_shown(desk, card))
    assert "Anna" in now_shown(desk, card)
    await desk.wait(lambda: any(t.startswith("✅ Ban lifted") for t in topic_posts(desk, topic)))
    # The card was edited, never posted again.
    assert sum("👤" in t for t in topic_posts(desk, topic)) == 1


async def test_a_timed_ban_ending_renders_the_card_again(db_url: str, desk: Desk,
                                                        apps: list[App]) -> None:
    clock, olga = MovableClock(), desk.operator("Olga")
    await _start(apps, db_url, desk, [olga.user.id], clock=clock)
    anna = desk.customer("Anna")
    await anna.says("first")
    topic = await desk.topic_with("first")
    card = desk.bot_posts(topic)[0]
    await olga.says(topic, "/ban 2h flooding")
    await desk.wait(lambda: BANNED in now_shown(desk, card))
    assert "🚫 Banned until " in now_shown(desk, card) and "by Olga — flooding" in \
        now_shown(desk, card)
    # The ban's end is due in two hours: the card shows the ban until then.
    await anna.says("during the ban")
    await until(lambda: suppressed(1), "the message during the ban suppressed")
    assert BANNED in now_shown(desk, card)

    clock.ahead = timedelta(hours=2, seconds=1)
    await desk.wait(lambda: BANNED not in now_shown(desk, card))
    await anna.says("after the ban")
    await desk.wait(lambda: "after the ban" in topic_posts(desk, topic))


async def test_the_card_in_the_first_post_shows_the_ban(db_url: str, desk: Desk,
                                                       apps: list[App]) -> None:
    """With surge handling the card heads the customer's first message in one post: the
    ban renders that post again, the message still under the card."""
    olga = group_admin(desk, "Olga")
    await _start(apps, db_url, desk, [olga.user.id], spares=1)
    anna = desk.customer("Anna")
    await anna.says("Where is my order?")
    topic = await topic_with(desk, "Where is my order?")
    [post] = desk.bot_posts(topic)  # one send: the card and the message together
    assert "👤" in post["text"], "the card and the message share the post"

    await olga.says(topic, "/ban 1d spam")
    await desk.wait(lambda: BANNED in now_shown(desk, post))
    assert now_shown(desk, post).endswith("\n\nWhere is my order?")
    assert "by Olga — spam" in now_shown(desk, post)
    await olga.says(topic, "/unban")
    await desk.wait(lambda: BANNED not in now_shown(desk, post))
    assert now_shown(desk, post).endswith("\n\nWhere is my order?")
    assert sum("Where is my order?" in t for t in topic_posts(desk, topic)) == 1


async def test_a_later_conversation_in_the_same_topic_edits_its_card(
        db_url: str, desk: Desk, apps: list[App]) -> None:
    """The customer's next conversation goes on in their topic, under the card the first
    one posted: a ban in it (and /unban in another topic) renders that card."""
    olga = group_admin(desk, "Olga")
    await _start(apps, db_url, desk, [olga.user.id])
    anna, boris = desk.customer("Anna"), desk.customer("Boris")
    await anna.says("first question")
    topic = await desk.topic_with("first question")
    card = desk.bot_posts(topic)[0]
    await olga.says(topic, "/close")
    await desk.wait(lambda: is_closed(desk, topic))
    await anna.says("second question")
    await desk.wait(lambda: "second question" in topic_posts(desk, topic))
    await olga.says(topic, "/ban abuse")
    await desk.wait(lambda: BANNED in now_shown(desk, card))
    assert sum("👤" in t for t in topic_posts(desk, topic)) == 1

    await boris.says("hello")
    elsewhere = await desk.topic_with("hello")
    await olga.says(elsewhere, "/unban")  # the wrong topic: Boris is not banned…
    await desk.wait(lambda: any(t.startswith("ℹ️ This customer is not banned")
                                for t in topic_posts(desk, elsewhere)))
    assert BANNED in now_shown(desk, card)
    await olga.says(topic, "/unban")  # …in Anna's topic it is lifted
    await desk.wait(lambda: BANNED not in now_shown(desk, card))

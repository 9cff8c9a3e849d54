"""Surge, one send for a new conversation: spare topics made while the group's budget is
idle, and the card and the customer's first message in one post. End to end against the
Telegram emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bots.app import App
from core.delivery.spares import SPARE_TITLE
from tests.harness import FAST_LIMITS, Desk, relay_config
from tests.vk_harness import VkSide

SPARES = 2
NAME = "<b>&<3 Anna 🎉"

StartSurge = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_surge(db_url: str, desk: Desk) -> AsyncIterator[StartSurge]:
    apps: list[App] = []

    async def start(spares: int = SPARES, limits: str = FAST_LIMITS) -> App:
        config = relay_config(db_url, desk.emu.base_url, desk.group, limits=limits)
        config = config.model_copy(update={
            "outbox": config.outbox.model_copy(update={"spare_topics": spares})})
        app = App(config)
        await app.start()
        apps.append(app)
        if spares:
            await desk.wait(lambda: len(spare_topics(desk)) == spares)
        return app

    try:
        yield start
    finally:
        for app in apps:
            await app.stop()


def spare_topics(desk: Desk) -> list[int]:
    return [t["message_thread_id"] for t in desk.topics() if t["name"] == SPARE_TITLE]


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text", m.get("caption", "")))


def _utf16(text: str, offset: int, length: int) -> str:
    units = text.encode("utf-16-le")
    return units[2 * offset:2 * (offset + length)].decode("utf-16-le")


def posts_with(desk: Desk, part: str) -> list[dict[str, Any]]:
    return [m for m in desk.messages() if m.get("from", {}).get("is_bot")
            and part in _text(m)]


async def topic_with(desk: Desk, part: str) -> int:
    await desk.wait(lambda: posts_with(desk, part))
    return int(posts_with(desk, part)[0]["message_thread_id"])


def title_of(desk: Desk, topic: int) -> str:
    return str(next(t["name"] for t in desk.topics() if t["message_thread_id"] == topic))


async def test_text_goes_out_with_the_card_in_a_spare_topic_titled_later(
        desk: Desk, start_surge: StartSurge) -> None:
    await start_surge()
    spares = spare_topics(desk)
    anna = desk.customer(NAME, username="anna_x")
    first = await anna.says("Where is my order <#1042>?",
                            entities=[{"type": "bold", "offset": 0, "length": 5}])
    topic = await topic_with(desk, "Where is my order")
    assert topic in spares, "the new conversation took a spare topic"
    [post] = desk.bot_posts(topic)  # one send: the card and the message together
    assert NAME in post["text"] and "@anna_x" in post["text"]
    assert post["text"].endswith("\n\nWhere is my order <#1042>?")
    bold = [e for e in post["entities"] if e["type"] == "bold"]
    assert any(_utf16(post["text"], e["offset"], e["length"]) == "Where" for e in bold)
    assert post["reply_markup"]["inline_keyboard"], "the card's buttons are under the post"
    # The title is set once the budget is idle, and the spare is replaced.
    await desk.wait(lambda: "Anna" in title_of(desk, topic) and "#" in title_of(desk, topic))
    await desk.wait(lambda: len(spare_topics(desk)) == SPARES)

    # An operator's reply to the post answers the customer's first message.
    olga = desk.operator("Olga")
    await olga.says(topic, "Checking it now", reply_to=post["message_id"])
    got = await anna.receives("Checking it now")
    assert got["reply_to_message"]["message_id"] == first["message_id"]
    # The customer's edit of it renders the post again, the card still on top.
    await anna.edits(first["message_id"], text="Where is my order #1043?")
    await desk.wait(lambda: _text(desk.emu.message(desk.group, post["message_id"]) or {})
                    .endswith("\n\nWhere is my order #1043?"))
    edited = desk.emu.message(desk.group, post["message_id"])
    assert edited is not None and NAME in edited["text"] and edited["reply_markup"]
    # The customer's reply to the first message threads onto the post.
    await anna.says("hello?", reply_to=first["message_id"])
    await desk.wait(lambda: desk.find("hello?") is not None)
    threaded = desk.find("hello?")
    assert threaded is not None
    assert threaded["reply_to_message"]["message_id"] == post["message_id"]


@pytest.mark.parametrize("kind", ["photo", "document"])
async def test_a_file_carries_the_card_as_its_caption(
        desk: Desk, start_surge: StartSurge, kind: str) -> None:
    await start_surge()
    anna = desk.customer(NAME)
    sent = await anna.sends(kind, caption="the broken part")
    topic = await topic_with(desk, "the broken part")
    [post] = desk.bot_posts(topic)
    assert kind in post and NAME in post["caption"]
    assert post["caption"].endswith("\n\nthe broken part")
    assert post["reply_markup"]["inline_keyboard"]
    olga = desk.operator("Olga")
    await olga.says(topic, "We'll replace it", reply_to=post["message_id"])
    got = await anna.receives("We'll replace it")
    assert got["reply_to_message"]["message_id"] == sent["message_id"]
    await anna.edits(sent["message_id"], caption="the broken part, photo 2")
    await desk.wait(lambda: _text(desk.emu.message(desk.group, post["message_id"]) or {})
                    .endswith("photo 2"))
    edited = desk.emu.message(desk.group, post["message_id"])
    assert edited is not None and NAME in edited["caption"] and kind in edited


async def test_a_file_without_caption_gets_the_card_as_caption(
        desk: Desk, start_surge: StartSurge) -> None:
    await start_surge()
    anna = desk.customer(NAME)
    await anna.sends("photo")
    await desk.wait(lambda: any("photo" in m for m in desk.messages() if
                                m.get("from", {}).get("is_bot")))
    [post] = [m for m in desk.messages() if m.get("from", {}).get("is_bot") and "photo" in m]
    assert NAME in post["caption"]
    assert len(desk.bot_posts(int(post["message_thread_id"]))) == 1


async def test_an_album_stays_an_album_after_the_card(
        desk: Desk, start_surge: StartSurge) -> None:
    await start_surge()
    spares = spare_topics(desk)
    anna = desk.customer(NAME)
    await desk.emu.user_send_album(anna.user, anna.id, ["photo", "photo", "photo"],
                                   caption="three views")
    topic = await topic_with(desk, "three views")
    assert topic in spares
    await desk.wait(lambda: len(desk.bot_posts(topic)) == 4)
    card, *photos = desk.bot_posts(topic)
    assert NAME in card["text"]
    assert len({p.get("media_group_id") for p in photos}) == 1 and all("photo" in p
                                                                        for p in photos)


async def test_a_sticker_follows_the_card(desk: Desk, start_surge: StartSurge) -> None:
    await start_surge()
    anna = desk.customer(NAME)
    await anna.sends("sticker")
    await desk.wait(lambda: any("sticker" in m for m in desk.messages()
                                if m.get("from", {}).get("is_bot")))
    [sticker] = [m for m in desk.messages() if m.get("from", {}).get("is_bot")
                 and "sticker" in m]
    card, copy = desk.bot_posts(int(sticker["message_thread_id"]))
    assert NAME in card["text"] and copy["message_id"] == sticker["message_id"]


async def test_a_text_near_the_limit_is_split_under_the_card(
        desk: Desk, start_surge: StartSurge) -> None:
    # Telegram clients send at most 4 096 characters; with the card on top that is more
    # than one message holds.
    await start_surge()
    anna = desk.customer(NAME)
    words = " ".join(f"w{i:04d}" for i in range(682))  # 4 091 characters
    sent = await anna.says(words)
    topic = await topic_with(desk, "w0000 w0001")
    await desk.wait(lambda: any("w0681" in _text(m) for m in desk.bot_posts(topic)))
    first, *rest = desk.bot_posts(topic)
    assert NAME in first["text"] and first["text"].index(NAME) < first["text"].index("w0000")
    assert all(len(m["text"]) <= 4096 for m in desk.bot_posts(topic))
    assert all(m["reply_to_message"]["message_id"] == first["message_id"] for m in rest)
    body = first["text"].split("\n\n", )[-1] + " " + " ".join(m["text"] for m in rest)
    assert body.split() == words.split(), "nothing lost, nothing doubled"
    olga = desk.operator("Olga")
    await olga.says(topic, "That's long", reply_to=first["message_id"])
    got = await anna.receives("That's long")
    assert got["reply_to_message"]["message_id"] == sent["message_id"]


async def test_more_customers_than_spares_each_get_one_topic_and_one_post(
        desk: Desk, start_surge: StartSurge) -> None:
    await start_surge()
    spares = set(spare_topics(desk))
    people = [desk.customer(f"Caller{i}") for i in range(4)]
    await asyncio.gather(*(p.says(f"first from {i}") for i, p in enumerate(people)))
    topics = [await topic_with(desk, f"first from {i}") for i in range(4)]
    assert len(set(topics)) == 4
    assert len(spares & set(topics)) == SPARES, "the spares went first, then new topics"
    for topic in topics:
        assert len(desk.bot_posts(topic)) == 1
    await desk.wait(lambda: all(title_of(desk, t) != SPARE_TITLE for t in topics))


async def test_the_group_limit_modelled_one_send_per_customer_no_violations(
        desk: Desk, start_surge: StartSurge) -> None:
    # Telegram's shape with a short window: 6 posts a second into the group.
    desk.emu.set_rate_limits(enabled=True, private=(10, 1.0), group=(6, 1.0), bot=(30, 1.0))
    limits = ("{private_chat: {count: 10, per: 1s}, group: {count: 6, per: 1s}, "
              "bot: {count: 30, per: 1s}}")
    await start_surge(spares=4, limits=limits)
    made = len(desk.messages())  # the spares' service messages, before anyone wrote
    people = [desk.customer(f"Rush{i}") for i in range(4)]
    await asyncio.gather(*(p.says(f"rush {i}") for i, p in enumerate(people)))
    for i in range(4):
        await topic_with(desk, f"rush {i}")
    during = [m for m in desk.messages()[made:] if "forum_topic_created" not in m
              and "forum_topic_edited" not in m]
    assert len(during) == 4, "one post per new customer"
    assert desk.emu.violations == []
    assert not [r for r in desk.emu.requests if r.error_code == 429]


async def test_a_5000_character_vk_text_is_split_under_the_card(
        db_url: str, desk: Desk, vk: VkSide) -> None:
    vk.emu.options.text_limit = 9000  # VK's newer limit
    config = relay_config(db_url, desk.emu.base_url, desk.group, extra=vk.config())
    app = App(config.model_copy(update={
        "outbox": config.outbox.model_copy(update={"spare_topics": SPARES})}))
    await app.start()
    try:
        await desk.wait(lambda: len(spare_topics(desk)) == SPARES)
        anna = vk.customer("Anna", "Smirnova")
        words = " ".join(f"v{i:04d}" for i in range(834))  # 5 003 characters
        sent = await anna.says(words)
        topic = await topic_with(desk, "v0000 v0001")
        await desk.wait(lambda: any("v0833" in _text(m) for m in desk.bot_posts(topic)))
        first, *rest = desk.bot_posts(topic)
        assert "Anna Smirnova" in first["text"] and len(rest) == 1
        assert all(len(m["text"]) <= 4096 for m in desk.bot_posts(topic))
        assert rest[0]["reply_to_message"]["message_id"] == first["message_id"]
        body = first["text"].split("\n\n")[-1] + " " + rest[0]["text"]
        assert body.split() == words.split(), "nothing lost, nothing doubled"
        olga = desk.operator("Olga")
        await olga.says(topic, "That's long", reply_to=first["message_id"])
        got = await anna.receives("That's long")
        assert got["reply_message"]["id"] == sent["id"]
    finally:
        await app.stop()

"""Odd input is relayed in a faithful form or explained, never a crash."""

from __future__ import annotations

from adapters.telegram.sender import split_text
from core import texts
from tests.harness import Desk


def test_split_text_keeps_every_character_and_respects_the_limit() -> None:
    text = ("word " * 700 + "\n" + "x" * 5000).strip()
    parts = split_text(text)
    assert all(0 < len(p) <= 3900 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == \
        text.replace("\n", "").replace(" ", "")


def test_topic_titles_fit_telegram_and_keep_the_channel() -> None:
    title = texts.topic_title("<b>&<3 " + "Я" * 300, "telegram", 123456)
    assert len(title) <= 128 and title.endswith(" · TG · #123456")
    assert texts.topic_title("   ", "vk", 1) == "Customer · VK · #1"


def test_card_escapes_customer_strings() -> None:
    html = texts.render("card", name="<b>&<3", username="a<b", link=None,
                        channel_label="TG", language="en", customer_id=1,
                        conversation_id=1, previous=0, identities=["TG 1"])
    assert "&lt;b&gt;&amp;&lt;3" in html and "<b>&<3" not in html


async def test_strange_names_and_texts_are_relayed_exactly(desk: Desk, relay) -> None:
    names = ["<b>&<3", "שלום עולם", "🎉🎉🎉", "a" * 64, "&amp; <i>"]
    for name in names:
        c = desk.customer(name, last_name="</a>")
        await c.says(f"{name} says <hi> & bye")
        topic = await desk.topic_with(f"{name} says <hi> & bye")
        card = desk.bot_posts(topic)[0]["text"]
        assert name in card and "</a>" in card

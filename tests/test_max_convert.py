"""MAX message objects → core values, and odd updates end to end: nothing crashes, nothing
stops the updates after them."""

from __future__ import annotations

from adapters.max.convert import content_of, profile_of, reply_id, sent_at
from tests.harness import Desk
from tests.max_harness import MaxSide
from tests.vk_harness import bot_texts


def test_attachments_become_files_or_text() -> None:
    message = {"body": {"mid": "mid.1", "text": "look", "attachments": [
        {"type": "image", "payload": {"photo_id": 1, "token": "t1", "url": "https://i/1"}},
        {"type": "file", "payload": {"url": "https://f/2", "token": "t2"},
         "filename": "a.pdf", "size": 3},
        {"type": "location", "latitude": 1.5, "longitude": 2.5},
        {"type": "contact", "payload": {"vcf_info": "BEGIN:VCARD", "max_info": None}},
        {"type": "inline_keyboard", "payload": {"buttons": []}},
        {"type": "hologram", "payload": {}},
        "not even a dict",
    ]}}
    content = content_of(message)
    assert [a.kind for a in content.attachments] == ["photo", "document"]
    assert content.attachments[0].key == "t1"
    assert content.attachments[1].name == "a.pdf"
    assert content.text.splitlines()[0] == "look"
    assert "📍 1.5, 2.5" in content.text and "👤 a contact" in content.text
    assert "hologram" in content.text


def test_links_replies_and_forwards() -> None:
    reply = {"body": {"mid": "mid.2", "text": "yes"},
             "link": {"type": "reply", "sender": {"user_id": 1, "first_name": "Bot"},
                      "message": {"mid": "mid.1", "text": "ok?"}}}
    assert reply_id(reply) == "mid.1"
    assert content_of(reply).quote == "Bot: ok?"
    forward = {"body": {"mid": "mid.3", "text": ""},
               "link": {"type": "forward", "sender": None, "chat_id": -5,
                        "message": {"mid": "mid.x", "text": "line 1\nline 2"}}}
    assert reply_id(forward) is None
    assert content_of(forward).text == "↪️ Forwarded (someone):\n» line 1\n» line 2"


def test_odd_values_never_crash() -> None:
    assert content_of({}).text == ""
    assert content_of({"body": None, "link": None}).attachments == ()
    assert profile_of(None).display_name == "id?"
    assert profile_of({"user_id": 7}).display_name == "id7"
    assert profile_of({"first_name": "A", "last_name": None}, "en-US").language == "en"
    assert sent_at("garbage").year >= 2026
    assert sent_at(1775025603399).year == 2026


async def test_odd_updates_are_skipped_and_the_rest_flows(desk: Desk, maxb: MaxSide,
                                                          max_relay) -> None:
    ivan = maxb.customer()
    emu, bot = maxb.emu, maxb.bot
    for odd in (
        {"update_type": "dialog_muted", "chat_id": 1, "user": {"user_id": ivan.id}},
        {"update_type": "message_created"},
        {"update_type": "message_created", "message": {"recipient": {"chat_type": "dialog"},
                                                       "body": {"text": "no sender"}}},
        {"update_type": "message_created", "message": {
            "sender": {"user_id": 0}, "recipient": {"chat_type": "channel", "chat_id": -9},
            "body": {"mid": "mid.c", "text": "a channel post"}}},
        {"update_type": "message_removed", "message_id": "mid.unknown", "chat_id": 1,
         "user_id": ivan.id},
        {"update_type": "message_callback", "callback": {"callback_id": "c1",
                                                         "payload": "nobody:knows",
                                                         "user": {"user_id": ivan.id}}},
        {"update_type": "bot_stopped", "chat_id": 1, "user": {"user_id": 42}},
    ):
        emu.state.push(bot, odd)
    ivan.says("a normal question after all that")
    topic = await desk.topic_with("a normal question after all that")
    assert not any("no sender" in t or "channel post" in t for t in bot_texts(desk, topic))

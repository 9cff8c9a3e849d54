"""Captions longer than a bot may send (a Telegram Premium user's, up to 2048 characters),
end to end in both directions, on SQLite and PostgreSQL. Telegram copies such a message only
as it is; a copy that must change (a reply) carries the caption cut at 1024, with "…" at the
cut, and the rest follows as a text starting with "…" that replies to the file."""

from __future__ import annotations

from typing import Any

from adapters.telegram.captions import cut
from sandbox.telegram.entities import utf16_len
from tests.harness import Desk
from tests.vk_harness import VkSide

CAPTION = ("Order 1042: " + "the parcel arrived broken, " * 74).rstrip(" ,")  # 1997 chars
BOLD = [{"type": "bold", "offset": 0, "length": 10}]
REFUSED = {"error_code": 400, "description": "Bad Request: message caption is too long"}


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text", m.get("caption", "")))


def _continuations(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in posts if (m.get("text") or "").startswith("…")]


def _joined(file: dict[str, Any], rest: dict[str, Any], sep: str = " ") -> str:
    """The caption the two parts stand for: the cut was made at `sep`."""
    assert file["caption"].endswith("…") and utf16_len(file["caption"]) <= 1024
    assert rest["reply_to_message"]["message_id"] == file["message_id"]
    return str(file["caption"][:-1] + sep + rest["text"][1:])


def _no_dead_letters(desk: Desk) -> None:
    assert not any("⚠️" in _text(m) for m in desk.messages())


async def test_a_premium_customers_long_caption_reaches_the_topic(desk: Desk, relay) -> None:
    vip = desk.customer("Vip", premium=True)
    await vip.says("hello")
    topic = await desk.topic_with("hello")
    # Not a reply: copied as it is, the whole caption on the copy.
    await vip.sends("photo", caption=CAPTION)
    await desk.topic_with(CAPTION)
    olga = desk.operator("Olga")
    await olga.says(topic, "A photo of the label, please")
    asked = await vip.receives("A photo of the label, please")
    label = await vip.sends("photo", caption=CAPTION, caption_entities=BOLD,
                            reply_to=asked["message_id"])
    await desk.wait(lambda: _continuations(desk.bot_posts(topic)))
    [rest] = _continuations(desk.bot_posts(topic))
    photo = [m for m in desk.bot_posts(topic) if "photo" in m][-1]
    assert photo["reply_to_message"]["text"] == "A photo of the label, please"
    assert photo["caption_entities"] == BOLD
    assert _joined(photo, rest) == CAPTION
    _no_dead_letters(desk)
    # The copy of the file is the message's copy: an answer to it threads onto the photo.
    await olga.says(topic, "Refund on the way", reply_to=photo["message_id"])
    got = await vip.receives("Refund on the way")
    assert got["reply_to_message"]["message_id"] == label["message_id"]


async def test_an_operators_long_caption_reaches_the_customer_and_edits_follow(
    desk: Desk, relay
) -> None:
    anna = desk.customer("Anna")
    question = await anna.says("Which box is mine?")
    topic = await desk.topic_with("Which box is mine?")
    copy = desk.find("Which box is mine?")
    assert copy is not None
    olga = desk.operator("Olga", premium=True)
    sent = await olga.sends(topic, "photo", caption=CAPTION, reply_to=copy["message_id"])
    await desk.wait(lambda: _continuations(anna.inbox()))
    [photo] = [m for m in anna.inbox() if "photo" in m]
    [rest] = _continuations(anna.inbox())
    assert photo["reply_to_message"]["message_id"] == question["message_id"]
    assert _joined(photo, rest) == CAPTION
    # A caption that fits is edited in place.
    await olga.edits(sent["message_id"], caption="The blue one")
    await anna.receives("The blue one")
    assert [m["message_id"] for m in anna.inbox() if "photo" in m] == [photo["message_id"]]
    # A long one can't be: a marked notice, then the new version, cut again.
    longer = CAPTION.replace("broken", "ruined")
    await olga.edits(sent["message_id"], caption=longer)
    await desk.wait(lambda: len(_continuations(anna.inbox())) == 2)
    new_photo = [m for m in anna.inbox() if "photo" in m][-1]
    assert _joined(new_photo, _continuations(anna.inbox())[-1]) == longer
    assert any("Olga edited a message" in _text(m) for m in anna.inbox())
    # Later edits go to the newest copy of the file.
    await olga.edits(sent["message_id"], caption="The blue one, really")
    await anna.receives("The blue one, really")
    assert desk.emu.message(anna.id, new_photo["message_id"])["caption"] == \
        "The blue one, really"
    _no_dead_letters(desk)


async def test_telegrams_refusal_is_answered_with_the_cut_not_a_dead_letter(
    desk: Desk, relay
) -> None:
    """Our count and Telegram's may disagree: on "message caption is too long" the copy is
    made again with the caption cut (under the strictest count when ours found it short or
    the cut is refused too), and a refused copyMessages batch is copied one by one."""
    vip = desk.customer("Vip", premium=True)
    hello = await vip.says("hello")
    topic = await desk.topic_with("hello")
    desk.emu.inject_fault("copyMessage", **REFUSED)  # a change we did not count
    await vip.sends("photo", caption=CAPTION)
    await desk.wait(lambda: _continuations(desk.bot_posts(topic)))
    [rest] = _continuations(desk.bot_posts(topic))
    photo = next(m for m in desk.bot_posts(topic) if "photo" in m)
    assert _joined(photo, rest) == CAPTION

    desk.emu.inject_fault("copyMessage", **REFUSED)  # a length we did not count
    short = "ж" * 1000  # 1000 UTF-16 units, 2000 UTF-8 bytes
    await vip.sends("document", caption=short)
    await desk.wait(lambda: len(_continuations(desk.bot_posts(topic))) == 2)
    doc = next(m for m in desk.bot_posts(topic) if "document" in m)
    assert len(doc["caption"].encode()) <= 1024
    assert _joined(doc, _continuations(desk.bot_posts(topic))[-1], sep="") == short

    desk.emu.inject_fault("copyMessage", **REFUSED)  # even the cut one: cut shorter
    await vip.sends("photo", caption=CAPTION, reply_to=hello["message_id"])
    await desk.wait(lambda: len(_continuations(desk.bot_posts(topic))) == 3)
    again = [m for m in desk.bot_posts(topic) if "photo" in m][-1]
    assert len(again["caption"].encode()) <= 1024
    assert _joined(again, _continuations(desk.bot_posts(topic))[-1]) == CAPTION

    desk.emu.inject_fault("copyMessages", **REFUSED)
    await desk.emu.user_send_album(vip.user, vip.id, ["photo", "photo"], caption="two")
    await desk.wait(lambda: sum("photo" in m for m in desk.bot_posts(topic)) == 4)
    assert desk.find("two") is not None
    _no_dead_letters(desk)


async def test_a_vk_text_too_long_for_a_caption_in_utf16_goes_with_its_file(
    desk: Desk, vk: VkSide, vk_relay
) -> None:
    """600 emoji are 600 characters but 1200 UTF-16 units: not a caption for a bot. And a
    caption Telegram refuses anyway: the file alone, the text as its reply."""
    anna = vk.customer()
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    await anna.says("🎉" * 600, ["photo"])
    await desk.wait(lambda: any("photo" in m for m in desk.bot_posts(topic)))
    assert desk.find("🎉" * 600) is not None
    desk.emu.inject_fault("sendPhoto", **REFUSED)
    await anna.says("the label", ["photo"])
    await desk.topic_with("the label")
    text = desk.find("the label")
    assert text is not None and "photo" in text["reply_to_message"]
    _no_dead_letters(desk)


def test_the_cut_is_at_a_word_and_keeps_formatting_on_both_sides() -> None:
    space = len(cut(CAPTION, [])[0].text) - 1  # where the cut falls: a space, dropped
    assert CAPTION[space] == " " and space > 900
    entities = [*BOLD, {"type": "italic", "offset": space - 10, "length": 21},
                {"type": "url", "offset": space - 5, "length": 10},
                {"type": "text_link", "offset": space + 3, "length": 6, "url": "https://x.io"}]
    head, [tail] = cut(CAPTION, entities)
    assert utf16_len(head.text) <= 1024 and head.text[-1] == tail.text[0] == "…"
    assert head.text[:-1] + " " + tail.text[1:] == CAPTION
    assert [(e.type, e.offset, e.length) for e in head.entities or []] == [
        ("bold", 0, 10), ("italic", space - 10, 10)]
    # After the leading "…": the rest of the italic, and the link whole; half a url would
    # point elsewhere, so it is dropped (its text stays).
    assert [(e.type, e.offset, e.length) for e in tail.entities or []] == [
        ("italic", 1, 10), ("text_link", 3, 6)]


def test_a_caption_longer_than_a_text_goes_on_in_several_parts() -> None:
    # Telegram's Premium limit has grown before (a 2024 report speaks of 4096).
    caption = "x" * 3000 + "\n" + "🎉" * 2000
    head, rest = cut(caption, [])
    assert len(rest) == 2 and all(utf16_len(p.text) <= 4096 for p in rest)
    assert all(p.text.startswith("…") for p in rest)
    joined = head.text[:-1] + "".join(p.text[1:] for p in rest)
    assert joined == caption.replace("\n", "")

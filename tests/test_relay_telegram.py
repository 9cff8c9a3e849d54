"""Telegram customers ↔ operator topics, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.harness import Desk

NAME = "<b>&<3 مرحبا 🎉"


def _text(m: dict[str, Any]) -> str | None:
    return m.get("text", m.get("caption"))


async def test_first_message_makes_a_topic_with_a_card_then_the_copy(desk: Desk, relay) -> None:
    anna = desk.customer(NAME, username="anna_x", language_code="ru")
    sent = await anna.says("Where is my order <#1042> & why?")
    topic = await desk.topic_with("Where is my order <#1042> & why?")
    posts = desk.bot_posts(topic)
    card, copy = posts[0], posts[1]
    assert NAME in card["text"] and "@anna_x" in card["text"] and "TG" in card["text"]
    assert "ru" in card["text"]
    assert copy["text"] == sent["text"]
    [info] = [t for t in desk.topics() if t["message_thread_id"] == topic]
    assert NAME.split(maxsplit=1)[0] in info["name"] and "TG" in info["name"] and len(info["name"]) <= 128


async def test_operator_reply_reaches_the_customer_threaded_both_ways(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    first = await anna.says("My parcel is late")
    topic = await desk.topic_with("My parcel is late")
    copy = desk.find("My parcel is late")
    assert copy is not None
    olga = desk.operator("Olga")
    await olga.says(topic, "Sorry! Checking now.", reply_to=copy["message_id"])
    got = await anna.receives("Sorry! Checking now.")
    assert got["reply_to_message"]["message_id"] == first["message_id"]
    # and the customer's reply to the answer threads onto the operator's original
    answer = await anna.says("Thanks", reply_to=got["message_id"])
    await desk.topic_with("Thanks")
    copy2 = desk.find("Thanks")
    assert copy2 is not None and answer["text"] == "Thanks"
    assert copy2["reply_to_message"]["text"] == "Sorry! Checking now."


async def test_note_stays_internal_and_close_then_new_conversation(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    olga = desk.operator()
    await olga.says(topic, "/note she is a VIP, be nice")
    await olga.says(topic, "Hi Anna!")
    await anna.receives("Hi Anna!")
    assert not any("VIP" in (_text(m) or "") for m in anna.inbox())
    await olga.says(topic, "/close")
    await desk.wait(lambda: any(t["message_thread_id"] == topic and t.get("closed")
                                for t in desk.topics()))
    await desk.wait(lambda: any("closed by" in (_text(m) or "") for m in desk.bot_posts(topic)))
    await anna.says("one more question")
    # the customer's history stays in one topic: it is reopened for the new conversation
    assert await desk.topic_with("one more question") == topic
    assert not next(t for t in desk.topics() if t["message_thread_id"] == topic).get("closed")
    assert any("New conversation" in (_text(m) or "") for m in desk.bot_posts(topic))
    await olga.says(topic, "Sure, ask")
    await anna.receives("Sure, ask")


async def test_media_is_copied_and_uncopyable_kinds_get_placeholders(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    await anna.says("media coming")
    topic = await desk.topic_with("media coming")
    kinds = ["photo", "document", "video", "voice", "video_note", "sticker", "animation",
             "audio", "location", "contact"]
    for kind in kinds:
        await anna.sends(kind, caption=f"a {kind}" if kind in ("photo", "document") else None)
    await anna.sends("poll")
    await anna.sends("dice")
    await anna.says("done")
    await desk.topic_with("done")
    posts = desk.bot_posts(topic)[2:-1]
    for kind, post in zip(kinds, posts, strict=False):
        assert kind in post, (kind, post)
    assert posts[0]["caption"] == "a photo"
    placeholders = [p["text"] for p in posts[len(kinds):]]
    assert len(placeholders) == 2
    assert "poll" in placeholders[0] and "dice" in placeholders[1]


async def test_album_is_relayed_as_one_album(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    await anna.says("photos:")
    topic = await desk.topic_with("photos:")
    for i in range(3):
        await anna.sends("photo", media_group_id="alb1", caption="the album" if i == 0 else None)
    await desk.wait(lambda: len([p for p in desk.bot_posts(topic) if "photo" in p]) == 3)
    photos = [p for p in desk.bot_posts(topic) if "photo" in p]
    groups = {p.get("media_group_id") for p in photos}
    assert len(groups) == 1 and None not in groups
    copies = [r for r in desk.emu.requests if r.method.lower() == "copymessages"]
    assert copies, "an album goes out in one copyMessages call"


async def test_edits_update_the_copies_in_both_directions(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    original = await anna.says("I ordered 2 cups")
    topic = await desk.topic_with("I ordered 2 cups")
    await anna.edits(original["message_id"], text="I ordered 3 cups")
    await desk.wait(lambda: desk.find("I ordered 3 cups") is not None)
    assert desk.find("I ordered 2 cups") is None  # edited in place, not re-posted
    olga = desk.operator()
    answer = await olga.says(topic, "We sent 2")
    await anna.receives("We sent 2")
    await olga.edits(answer["message_id"], text="We sent 3, sorry")
    await desk.wait(lambda: any(_text(m) == "We sent 3, sorry" for m in anna.inbox()))
    assert not any(_text(m) == "We sent 2" for m in anna.inbox())


async def test_a_replaced_file_is_posted_anew_in_both_directions(desk: Desk, relay) -> None:
    """No copy can be edited into another file: the new version goes out as a reply to the
    copy it replaces (with a marked notice for operators), and later edits change it."""
    anna = desk.customer("Anna")
    original = await anna.sends("photo", caption="the broken cup", data=b"first photo")
    topic = await desk.topic_with("the broken cup")
    old_copy = desk.find("the broken cup")
    assert old_copy is not None
    await anna.edits(original["message_id"], media="photo", data=b"a better photo")
    await desk.wait(lambda: len([m for m in desk.bot_posts(topic)
                                 if _text(m) == "the broken cup"]) == 2)
    new_copy = [m for m in desk.bot_posts(topic) if _text(m) == "the broken cup"][-1]
    assert new_copy["photo"][-1]["file_unique_id"] != old_copy["photo"][-1]["file_unique_id"]
    assert new_copy["reply_to_message"]["message_id"] == old_copy["message_id"]
    assert any("Anna edited a message" in (_text(m) or "") for m in desk.bot_posts(topic))
    await anna.edits(original["message_id"], caption="the broken cup, see the photo")
    await desk.wait(lambda: desk.find("the broken cup, see the photo") is not None)
    assert desk.find("the broken cup, see the photo")["message_id"] == new_copy["message_id"]
    # an operator swapping the document they sent
    olga = desk.operator()
    sent = await olga.sends(topic, "document", caption="your invoice", data=b"v1")
    await anna.receives("your invoice")
    await olga.edits(sent["message_id"], media="document", data=b"v2, corrected")
    await desk.wait(lambda: len([m for m in anna.inbox() if _text(m) == "your invoice"]) == 2)
    first, second = [m for m in anna.inbox() if _text(m) == "your invoice"]
    assert second["reply_to_message"]["message_id"] == first["message_id"]
    assert second["document"]["file_unique_id"] != first["document"]["file_unique_id"]
    # a caption edit alone still edits in place
    await olga.edits(sent["message_id"], caption="your invoice (paid)")
    await desk.wait(lambda: any(_text(m) == "your invoice (paid)" for m in anna.inbox()))
    assert len(anna.inbox()) == 2


async def test_blocked_customer_tells_operators_and_stops_trying(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    await anna.says("hi")
    topic = await desk.topic_with("hi")
    await anna.blocks_bot()
    await desk.wait(lambda: any("blocked the bot" in (_text(m) or "")
                                for m in desk.bot_posts(topic)))
    olga = desk.operator()
    before = len([r for r in desk.emu.requests if r.chat_id == anna.id])
    await olga.says(topic, "Are you there?")
    await desk.wait(lambda: any("Not delivered" in (_text(m) or "")
                                for m in desk.bot_posts(topic)))
    assert len([r for r in desk.emu.requests if r.chat_id == anna.id]) == before
    await anna.unblocks_bot()
    await desk.wait(lambda: any("unblocked" in (_text(m) or "") for m in desk.bot_posts(topic)))
    await olga.says(topic, "Welcome back")
    await anna.receives("Welcome back")


async def test_403_from_telegram_marks_the_customer_unreachable(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    await anna.says("hi")
    topic = await desk.topic_with("hi")
    desk.emu.inject_fault("copyMessage", error_code=403,
                          description="Forbidden: bot was blocked by the user", chat_id=anna.id)
    olga = desk.operator()
    await olga.says(topic, "first")
    await desk.wait(lambda: any("Not delivered" in (_text(m) or "")
                                for m in desk.bot_posts(topic)))
    await olga.says(topic, "second")
    await desk.wait(lambda: sum("Not delivered" in (_text(m) or "")
                                for m in desk.bot_posts(topic)) == 2)
    tries = [r for r in desk.emu.requests if r.chat_id == anna.id
             and r.method.lower() == "copymessage"]
    assert len(tries) == 1  # no retry storm: the second one never hit Telegram


async def test_deleted_topic_is_recreated_and_closed_topic_reopened(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    await anna.says("first")
    topic = await desk.topic_with("first")
    desk.emu.delete_topic(desk.group, topic)
    await anna.says("second")
    new_topic = await desk.topic_with("second")
    assert new_topic != topic
    assert "Anna" in desk.bot_posts(new_topic)[0]["text"]  # a fresh card first
    desk.emu.close_topic(desk.group, new_topic)
    await anna.says("third")
    assert await desk.topic_with("third") == new_topic


async def test_nothing_but_operators_in_topics_reaches_a_customer(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    await anna.says("hi")
    topic = await desk.topic_with("hi")
    olga = desk.operator()
    other_bot = desk.emu.add_user(first_name="OtherBot", last_name=None, username="other_bot",
                                  language_code=None, is_bot=True)
    desk.emu.add_member(desk.group, other_bot)
    await desk.emu.user_send(other_bot, desk.group, text="bot chatter", thread_id=topic)
    await olga.says(None, "general topic talk")  # type: ignore[arg-type]
    other_group = desk.emu.create_supergroup(title="Other", forum=True, bot_admin=True,
                                             can_manage_topics=True)
    desk.emu.add_member(other_group, olga.user)
    await desk.emu.user_send(olga.user, other_group, text="wrong group")
    await olga.says(topic, "the real answer")
    await anna.receives("the real answer")
    texts = [_text(m) for m in anna.inbox()]
    assert "bot chatter" not in texts and "general topic talk" not in texts
    assert "wrong group" not in texts

"""MAX customers ↔ operator topics, end to end (the real MAX adapter against the MAX
emulator, real aiogram against the Telegram emulator), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bots.app import StartupError
from tests.harness import Desk
from tests.max_harness import MaxSide
from tests.vk_harness import bot_texts

GREETING = "Hello! Write your question here and a support agent will answer you."


async def test_first_message_makes_a_topic_with_a_max_card(desk: Desk, maxb: MaxSide,
                                                          max_relay) -> None:
    ivan = maxb.customer("Ivan", "Petrov", username="ivan_p")
    ivan.says("Where is my order?")
    topic = await desk.topic_with("Where is my order?")
    [info] = [t for t in desk.topics() if t["message_thread_id"] == topic]
    assert info["name"].startswith("Ivan Petrov · MAX · #")
    card = desk.bot_posts(topic)[0]["text"]
    assert "Ivan Petrov" in card and "MAX" in card
    # every request carried the raw token, and polling always sent a marker after the first
    polls = maxb.emu.calls("GET /updates")
    assert all("marker" in r.query for r in polls[1:])


async def test_answers_and_replies_cross_both_ways(desk: Desk, maxb: MaxSide,
                                                  max_relay) -> None:
    ivan = maxb.customer()
    first = ivan.says("My parcel is late")
    topic = await desk.topic_with("My parcel is late")
    copy = desk.find("My parcel is late")
    assert copy is not None
    olga = desk.operator("Olga")
    await olga.says(topic, "Sorry! <b>Checking</b> now & soon.", reply_to=copy["message_id"])
    got = await ivan.receives("Sorry! <b>Checking</b> now & soon.")
    assert got["body"]["markup"] == []  # the operator's text is shown, not obeyed
    assert got["link"]["type"] == "reply"
    assert got["link"]["message"]["mid"] == first["body"]["mid"]
    [send] = [r for r in maxb.emu.calls("POST /messages") if r.ok]
    assert send.body["format"] == "html" and send.query["user_id"] == str(ivan.id)
    # the customer replies to the answer: the copy in the topic threads onto Olga's message
    ivan.says("Thanks", reply_to=got["body"]["mid"])
    await desk.topic_with("Thanks")
    thanks = desk.find("Thanks")
    assert thanks is not None
    assert thanks["reply_to_message"]["text"] == "Sorry! <b>Checking</b> now & soon."


async def test_edits_cross_both_ways(desk: Desk, maxb: MaxSide, max_relay) -> None:
    ivan = maxb.customer()
    sent = ivan.says("I ordered 2 pcs")
    topic = await desk.topic_with("I ordered 2 pcs")
    ivan.edits(sent["body"]["mid"], "I ordered 3 pcs")
    await desk.wait(lambda: "I ordered 3 pcs" in bot_texts(desk, topic))
    assert "I ordered 2 pcs" not in bot_texts(desk, topic)
    olga = desk.operator()
    answer = await olga.says(topic, "Ships Monday")
    got = await ivan.receives("Ships Monday")
    await olga.edits(answer["message_id"], text="Ships Tuesday")
    await maxb.emu.wait_for(lambda: maxb.emu.message(got["body"]["mid"])["body"]["text"]
                            == "Ships Tuesday")
    [edit] = maxb.emu.calls("PUT /messages")
    assert edit.query["message_id"] == got["body"]["mid"]
    assert "attachments" not in edit.body  # files and buttons stay as they are


async def test_a_deleted_customer_message_is_marked_not_removed(desk: Desk, maxb: MaxSide,
                                                                max_relay) -> None:
    ivan = maxb.customer()
    ivan.says("hello")
    sent = ivan.says("my card number is 1234")
    topic = await desk.topic_with("my card number is 1234")
    ivan.deletes(sent["body"]["mid"])
    await desk.wait(lambda: any("deleted" in t and "my card number is 1234" in t
                                for t in bot_texts(desk, topic)))
    assert "hello" in bot_texts(desk, topic)


async def test_bot_stopped_then_an_answer_then_bot_started(desk: Desk, maxb: MaxSide,
                                                          max_relay) -> None:
    ivan = maxb.customer()
    ivan.says("hello")
    topic = await desk.topic_with("hello")
    ivan.stops_bot()
    await desk.wait(lambda: any("blocked the bot" in t for t in bot_texts(desk, topic)))
    olga = desk.operator()
    await olga.says(topic, "are you there?")
    await desk.wait(lambda: any("Not delivered" in t for t in bot_texts(desk, topic)))
    assert not maxb.emu.calls("POST /messages")  # known unreachable: not even tried
    ivan.starts_bot()
    await desk.wait(lambda: any("allowed messages" in t or "reach them again" in t
                                for t in bot_texts(desk, topic)))
    await ivan.receives(GREETING)
    await olga.says(topic, "welcome back")
    await ivan.receives("welcome back")


async def test_chat_denied_on_send_marks_unreachable_once(desk: Desk, maxb: MaxSide,
                                                         max_relay) -> None:
    ivan = maxb.customer()
    ivan.says("hello")
    topic = await desk.topic_with("hello")
    # MAX did not tell us (no bot_stopped came), but the dialog is suspended
    maxb.emu.state.dialog(maxb.bot, ivan.id).stopped = True
    olga = desk.operator()
    await olga.says(topic, "first try")
    await desk.wait(lambda: any("Not delivered" in t for t in bot_texts(desk, topic)))
    [refused] = maxb.emu.calls("POST /messages")
    assert refused.status == 403 and refused.code == "chat.denied"
    await olga.says(topic, "second try")
    await desk.wait(lambda: sum("Not delivered" in t for t in bot_texts(desk, topic)) == 2)
    assert len(maxb.emu.calls("POST /messages")) == 1
    ivan.says("I am back")  # writing again makes them reachable
    await desk.topic_with("I am back")
    await olga.says(topic, "hi again")
    await ivan.receives("hi again")


async def test_hostile_names_and_html_cross_unharmed(desk: Desk, maxb: MaxSide,
                                                    max_relay) -> None:
    evil = maxb.customer('<b>Boss</b> & "Co"', "</a><script>", username="x<y")
    evil.says("<i>not italic</i> & <a href='x'>link</a>")
    topic = await desk.topic_with("<i>not italic</i> & <a href='x'>link</a>")
    [info] = [t for t in desk.topics() if t["message_thread_id"] == topic]
    assert info["name"].startswith('<b>Boss</b> & "Co" </a><script> · MAX')
    card = desk.bot_posts(topic)[0]["text"]
    assert '<b>Boss</b> & "Co"' in card
    await desk.operator().says(topic, "1 < 2 && <tag> \"quoted\"")
    got = await evil.receives("1 < 2 && <tag> \"quoted\"")
    assert got["body"]["markup"] == []


async def test_group_chats_are_ignored(desk: Desk, maxb: MaxSide, max_relay) -> None:
    someone = maxb.customer("Group", "Member")
    maxb.emu.group_message(someone.user, "hi all in the group")
    someone.says("a real dialog question")
    await desk.topic_with("a real dialog question")
    assert desk.find("hi all in the group") is None


async def test_a_bad_max_token_stops_the_start_naming_the_key(
    desk: Desk, maxb: MaxSide, start_relay
) -> None:
    wrong = maxb.config().replace(maxb.bot.token, "max-Wrong-Token-Of-Nobody-12345678")
    with pytest.raises(StartupError, match=r"max\.token: MAX rejected the token") as err:
        await start_relay(extra=wrong)
    assert "Wrong-Token" not in str(err.value)
    [me] = maxb.emu.calls("GET /me")
    assert me.status == 401 and me.code == "verify.token"

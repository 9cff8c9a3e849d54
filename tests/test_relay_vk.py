"""VK community customers ↔ operator topics, end to end (real VK transport against the VK
emulator, real aiogram against the Telegram emulator), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from bots.app import StartupError
from sandbox.vk.media import TINY_PNG
from tests.harness import Desk
from tests.vk_harness import VkSide, bot_texts, tg_file_bytes


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text", m.get("caption", "")))


async def test_first_message_makes_a_topic_with_a_vk_card(desk: Desk, vk: VkSide,
                                                          vk_relay) -> None:
    anna = vk.customer("Anna", "Smirnova", screen_name="anna_s", lang_id=3)
    await anna.says("Where is my order <#57> & why?")
    topic = await desk.topic_with("Where is my order <#57> & why?")
    card = desk.bot_posts(topic)[0]["text"]
    assert "Anna Smirnova" in card and "VK" in card and "en" in card
    [info] = [t for t in desk.topics() if t["message_thread_id"] == topic]
    assert info["name"].startswith("Anna Smirnova · VK · #")
    entities = desk.bot_posts(topic)[0].get("entities", [])
    assert any(e.get("url") == "https://vk.com/anna_s" for e in entities)
    # the name came from users.get, once, however many messages follow
    await anna.says("second")
    await desk.topic_with("second")
    assert len(vk.emu.calls("users.get")) == 1


async def test_operator_answers_reach_vk_threaded_both_ways(desk: Desk, vk: VkSide,
                                                           vk_relay) -> None:
    anna = vk.customer()
    first = await anna.says("My parcel is late")
    topic = await desk.topic_with("My parcel is late")
    copy = desk.find("My parcel is late")
    assert copy is not None
    olga = desk.operator("Olga")
    await olga.says(topic, "Sorry! Checking now.", reply_to=copy["message_id"])
    got = await anna.receives("Sorry! Checking now.")
    assert got["reply_message"]["id"] == first["id"]
    assert got["random_id"] != 0
    # the customer replies to the answer: the copy in the topic threads onto Olga's message
    await anna.says("Thanks", reply_to=got["id"])
    await desk.topic_with("Thanks")
    thanks = desk.find("Thanks")
    assert thanks is not None
    assert thanks["reply_to_message"]["text"] == "Sorry! Checking now."
    # our own sends come back as message_reply events; none is shown as an admin answer
    assert not any("answered in VK" in t for t in bot_texts(desk, topic))


async def test_every_kind_of_vk_message_is_relayed(desk: Desk, vk: VkSide, vk_relay) -> None:
    anna = vk.customer()
    await anna.says("media coming")
    topic = await desk.topic_with("media coming")
    png = TINY_PNG
    await anna.says("a photo", [{"type": "photo", "data": png}])
    await anna.says("", [{"type": "doc", "data": b"%PDF-1.4 invoice", "title": "invoice.pdf"}])
    await anna.says("", ["sticker"])
    await anna.says("", ["audio_message"])
    await anna.says("see this", [{"type": "wall", "owner_id": -1, "id": 7, "text": "Sale!"}])
    await anna.says("", [{"type": "link", "url": "https://shop.example/42", "title": "Item"}])
    await anna.says("look", fwd=[{"from_id": 99, "text": "forwarded words"}])
    await anna.says("done")
    await desk.topic_with("done")
    posts = desk.bot_posts(topic)
    photo = next(p for p in posts if "photo" in p)
    assert tg_file_bytes(desk, photo["photo"][-1]["file_id"]) == png
    assert "a photo" in bot_texts(desk, topic)
    doc = next(p for p in posts if "document" in p)
    assert doc["document"]["file_name"] == "invoice.pdf"
    assert tg_file_bytes(desk, doc["document"]["file_id"]) == b"%PDF-1.4 invoice"
    assert any("voice" in p for p in posts)
    assert sum("photo" in p for p in posts) == 2  # the photo and the sticker image
    texts = bot_texts(desk, topic)
    assert any("https://vk.com/wall-1_7" in t and "Sale!" in t for t in texts)
    assert any("https://shop.example/42" in t and "Item" in t for t in texts)
    assert any("Forwarded" in t and "forwarded words" in t and t.startswith("look")
               for t in texts)


async def test_operator_photo_and_document_are_uploaded_to_vk(desk: Desk, vk: VkSide,
                                                             vk_relay) -> None:
    anna = vk.customer()
    await anna.says("send me the invoice")
    topic = await desk.topic_with("send me the invoice")
    olga = desk.operator()
    await olga.sends(topic, "photo", caption="the label", data=TINY_PNG)
    await olga.sends(topic, "document", caption="the invoice", data=b"%PDF-1.4 bill",
                     file_name="bill.pdf", mime_type="application/pdf")
    photo = await anna.receives("the label")
    doc = await anna.receives("the invoice")
    assert photo["attachments"][0]["type"] == "photo"
    assert vk.emu.file_bytes(photo["attachments"][0]) == TINY_PNG
    assert doc["attachments"][0]["type"] == "doc"
    assert doc["attachments"][0]["doc"]["title"] == "bill.pdf"
    assert vk.emu.file_bytes(doc["attachments"][0]) == b"%PDF-1.4 bill"
    assert vk.emu.calls("photos.getMessagesUploadServer")
    assert vk.emu.calls("docs.getMessagesUploadServer")


async def test_admin_answer_in_vk_inbox_shows_in_topic_and_is_not_echoed(
    desk: Desk, vk: VkSide, vk_relay
) -> None:
    anna = vk.customer()
    await anna.says("anyone there?")
    topic = await desk.topic_with("anyone there?")
    await vk.admin_replies(anna, "Yes, this is Pavel from the web inbox")
    await desk.wait(lambda: any("Yes, this is Pavel from the web inbox" in t
                                and "answered in VK" in t for t in bot_texts(desk, topic)))
    store = vk_relay.services.store
    conversation = await store.conversation_by_topic(topic)
    assert conversation is not None and conversation.first_response_at is not None
    assert conversation.waiting_since is None
    # the answer is never sent back to the customer by the bot
    assert [m["text"] for m in anna.inbox()] == ["Yes, this is Pavel from the web inbox"]
    assert not vk.emu.calls("messages.send")


async def test_customer_edits_update_the_copy_in_the_topic(desk: Desk, vk: VkSide,
                                                          vk_relay) -> None:
    anna = vk.customer()
    sent = await anna.says("I ordered 2 pcs")
    topic = await desk.topic_with("I ordered 2 pcs")
    await anna.edits(sent["id"], "I ordered 3 pcs")
    await desk.wait(lambda: "I ordered 3 pcs" in bot_texts(desk, topic))
    assert "I ordered 2 pcs" not in bot_texts(desk, topic)


async def test_deny_makes_unreachable_once_and_allow_restores(desk: Desk, vk: VkSide,
                                                             vk_relay) -> None:
    anna = vk.customer()
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    anna.denies()
    await desk.wait(lambda: any("denied messages" in t for t in bot_texts(desk, topic)))
    olga = desk.operator()
    await olga.says(topic, "are you there?")
    await desk.wait(lambda: any("Not delivered" in t for t in bot_texts(desk, topic)))
    assert not vk.emu.calls("messages.send")  # known unreachable: not even tried
    anna.allows()
    await desk.wait(lambda: any("allowed messages" in t for t in bot_texts(desk, topic)))
    await olga.says(topic, "welcome back")
    await anna.receives("welcome back")


async def test_send_errors_900_901_902_mark_unreachable_without_retrying(
    desk: Desk, vk: VkSide, vk_relay
) -> None:
    olga = desk.operator()
    for n, (code, block) in enumerate([(900, "blacklist"), (901, "deny"), (902, "privacy")]):
        person = vk.customer(f"P{code}")
        await person.says(f"question {n}")
        topic = await desk.topic_with(f"question {n}")
        if block == "blacklist":
            vk.emu.set_blacklisted(person.user, vk.club)
        elif block == "deny":
            vk.emu.state.communities[vk.club.id].conversation(person.id).allowed = False
        else:
            vk.emu.set_privacy(person.user)
        await olga.says(topic, f"answer {n}")
        await desk.wait(lambda t=topic: any("Not delivered" in x for x in bot_texts(desk, t)))
        sends = [r for r in vk.emu.calls("messages.send") if r.peer_id == person.id]
        assert len(sends) == 1 and sends[0].error_code == code
        await olga.says(topic, f"again {n}")
        await desk.wait(lambda t=topic: sum("Not delivered" in x
                                            for x in bot_texts(desk, t)) == 2)
        assert len([r for r in vk.emu.calls("messages.send") if r.peer_id == person.id]) == 1


async def test_lost_send_answer_delivers_exactly_one_copy(desk: Desk, vk: VkSide,
                                                         vk_relay) -> None:
    anna = vk.customer()
    await anna.says("hi")
    topic = await desk.topic_with("hi")
    vk.emu.drop_connection("messages.send", times=2, after=True)
    await desk.operator().says(topic, "only once please")
    await anna.receives("only once please")
    await desk.wait(lambda: len(vk.emu.calls("messages.send")) >= 3)
    assert [m["text"] for m in anna.inbox()] == ["only once please"]
    ids = {r.params["random_id"] for r in vk.emu.calls("messages.send")}
    assert len(ids) == 1


async def test_linked_customer_continues_in_one_conversation_answered_where_they_wrote(
    desk: Desk, vk: VkSide, vk_relay
) -> None:
    tg_anna = desk.customer("Anna")
    await tg_anna.says("hi from telegram")
    tg_topic = await desk.topic_with("hi from telegram")
    vk_anna = vk.customer("Anna", "Smirnova")
    await vk_anna.says("hi from vk")
    vk_topic = await desk.topic_with("hi from vk")
    assert vk_topic != tg_topic
    store = vk_relay.services.store
    tg_conversation = await store.conversation_by_topic(tg_topic)
    assert tg_conversation is not None
    olga = desk.operator()
    # Olga checked it is the same person and links the VK topic's customer to the TG one
    await olga.says(vk_topic, f"/link {tg_conversation.customer_id}")
    await desk.wait(lambda: any("linked customer" in t for t in bot_texts(desk, vk_topic)))
    await desk.wait(lambda: any("continues in conversation" in t
                                for t in bot_texts(desk, tg_topic)))
    # both identities now write into the VK topic's conversation
    await tg_anna.says("telegram again")
    assert await desk.topic_with("telegram again") == vk_topic
    await olga.says(vk_topic, "answer to telegram")
    await tg_anna.receives("answer to telegram")
    await vk_anna.says("vk again")
    assert await desk.topic_with("vk again") == vk_topic
    await olga.says(vk_topic, "answer to vk")
    await vk_anna.receives("answer to vk")
    assert "answer to vk" not in [m.get("text") for m in tg_anna.inbox()]
    identities = await store.identities_of(tg_conversation.customer_id)
    assert {i.channel for i in identities} == {"telegram", "vk"}


async def test_link_to_an_unknown_customer_says_why(desk: Desk, vk: VkSide, vk_relay) -> None:
    anna = vk.customer()
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    await desk.operator().says(topic, "/link 9999")
    await desk.wait(lambda: any("no customer #9999" in t for t in bot_texts(desk, topic)))
    assert not anna.inbox()


async def test_a_bad_vk_token_or_group_stops_the_start_naming_the_key(
    desk: Desk, vk: VkSide, start_relay
) -> None:
    wrong_token = vk.config().replace(vk.club.token, "vk1.a.Wrong-Token-Of-Nobody-1234567")
    with pytest.raises(StartupError, match=r"vk\.token: VK rejected the token"):
        await start_relay(extra=wrong_token)
    wrong_group = vk.config().replace(f"group_id: {vk.club.id}", "group_id: 777")
    with pytest.raises(StartupError, match=r"vk\.group_id"):
        await start_relay(extra=wrong_group)


async def test_operator_edits_and_voice_reach_vk(desk: Desk, vk: VkSide, vk_relay) -> None:
    anna = vk.customer()
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    olga = desk.operator()
    sent = await olga.says(topic, "Your order ships Monday")
    got = await anna.receives("Your order ships Monday")
    await olga.edits(sent["message_id"], text="Your order ships Tuesday")
    await vk.emu.wait_for(lambda: vk.emu.message(vk.club, got["id"])["text"]
                          == "Your order ships Tuesday")
    await olga.sends(topic, "voice", data=b"OggS-operator-voice")
    await vk.emu.wait_for(lambda: any(a["type"] == "audio_message" for m in anna.inbox()
                                      for a in m["attachments"]))
    voice = next(a for m in anna.inbox() for a in m["attachments"]
                 if a["type"] == "audio_message")
    assert vk.emu.file_bytes(voice["audio_message"]["link_ogg"]) == b"OggS-operator-voice"


async def test_admin_edit_in_vk_inbox_updates_the_topic_not_the_customer(
    desk: Desk, vk: VkSide, vk_relay
) -> None:
    anna = vk.customer()
    await anna.says("question")
    topic = await desk.topic_with("question")
    answer = await vk.admin_replies(anna, "We open at 9")
    await desk.wait(lambda: any("We open at 9" in t for t in bot_texts(desk, topic)))
    # the admin corrects the answer in VK: the copy in the topic follows
    await vk.emu.admin_edit(vk.club, answer["id"], "We open at 10")
    await desk.wait(lambda: any("We open at 10" in t for t in bot_texts(desk, topic)))
    assert not vk.emu.calls("messages.edit") and not vk.emu.calls("messages.send")


async def test_start_button_is_greeted_without_a_topic(desk: Desk, vk: VkSide,
                                                       vk_relay) -> None:
    anna = vk.customer()
    await anna.says("Начать", payload={"command": "start"})
    greeting = await anna.receives(
        "Hello! Write your question here and a support agent will answer you.")
    assert greeting["random_id"] != 0
    assert not [t for t in desk.topics() if "· VK ·" in t["name"]]
    await anna.says("my real question")
    await desk.topic_with("my real question")


async def test_a_reply_to_something_never_relayed_is_quoted(desk: Desk, vk: VkSide,
                                                            vk_relay) -> None:
    anna = vk.customer()
    await anna.says("Начать", payload={"command": "start"})
    greeting = await anna.receives(
        "Hello! Write your question here and a support agent will answer you.")
    await anna.says("what do you mean?", reply_to=greeting["id"])
    await desk.wait(lambda: any("what do you mean?" in t for t in desk_texts(desk)))
    copy = next(m for m in desk.messages() if "what do you mean?" in _text(m))
    assert "forum_topic_created" in copy.get("reply_to_message", {"forum_topic_created": 1})
    assert copy["text"].startswith(f"club{vk.club.id}: Hello! Write your question")
    assert any(e["type"] == "blockquote" for e in copy.get("entities", []))


def desk_texts(desk: Desk) -> list[str]:
    return [_text(m) for m in desk.messages() if m.get("from", {}).get("is_bot")]


async def test_own_sends_are_never_taken_for_admin_answers_even_with_an_admin_id(
    desk: Desk, vk: VkSide, vk_relay
) -> None:
    vk.emu.options.admin_author_on_api_sends = True  # VK might name an admin on API sends
    anna = vk.customer()
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    olga = desk.operator()
    for n in range(5):
        await olga.says(topic, f"answer {n}")
    for n in range(5):
        await anna.receives(f"answer {n}")
    await vk.admin_replies(anna, "typed in VK")
    await desk.wait(lambda: any("typed in VK" in t for t in bot_texts(desk, topic)))
    assert sum("answered in VK" in t for t in bot_texts(desk, topic)) == 1


async def test_operator_content_vk_cannot_show_arrives_as_a_clear_text(
    desk: Desk, vk: VkSide, vk_relay
) -> None:
    anna = vk.customer()
    await anna.says("hi")
    vk_topic = await desk.topic_with("hi")
    tg_anna = desk.customer("Tanya")
    await tg_anna.says("hello")
    tg_topic = await desk.topic_with("hello")
    olga = desk.operator()
    await olga.sends(vk_topic, "poll")
    await olga.sends(tg_topic, "poll")
    await vk.emu.wait_for(lambda: any("a poll" in m["text"] for m in anna.inbox()))
    await desk.emu.wait_for(lambda: any("a poll" in _text(m) for m in tg_anna.inbox()))
    assert not any("answered in" in _text(m) for m in tg_anna.inbox())

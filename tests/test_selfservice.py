"""Self-service end to end on Telegram (SQLite and PostgreSQL): the real App and aiogram client
against the emulator. The bot answers what the FAQ covers and stays out of the operator
group; "That helped" closes the conversation; a hand-over makes the topic with the card and
the context post, and from then on the bot is silent."""

from __future__ import annotations

import asyncio
from typing import Any

from storage import models as db
from tests.harness import Desk, StartRelay

FAQ = """
faq:
  - id: parking
    ru:
      question: "Есть ли у вас парковка?"
      phrasings: ["где оставить машину"]
      answer: "Парковка во дворе, 150 ₽/час."
    en:
      question: "Is there parking?"
      phrasings: ["where can I park"]
      answer: "Parking in the courtyard, 150 ₽/hour. <Free> for residents & guests."
  - id: wifi
    ru:
      question: "Какой пароль от wi-fi?"
      answer: "Сеть LoftHub, пароль на стойке."
    en:
      question: "What is the wifi password?"
      answer: "Network LoftHub, the password is at reception."
"""
SERVICE = """
service:
  targets: {first_response: 1h, next_response: 1h, business_hours: false}
  sweep_interval: 200ms
  title_debounce: "off"
  daily_report: "off"
"""
PARKING_EN = "Parking in the courtyard, 150 ₽/hour. <Free> for residents & guests."
HELPED, PERSON = "✅ That helped", "🙋 Talk to a person"


def _labels(message: dict[str, Any]) -> list[list[str]]:
    return [[b["text"] for b in row] for row in message["reply_markup"]["inline_keyboard"]]


def _data(message: dict[str, Any], label: str) -> str:
    return next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"]
                for b in row if b["text"] == label)


async def _press(desk: Desk, customer: Any, message: dict[str, Any], label: str) -> str:
    query = await desk.emu.user_press_button(customer.user, customer.id, message["message_id"],
                                             _data(message, label))
    await desk.wait(lambda: desk.emu.callback_answer(query) is not None)
    return str(desk.emu.callback_answer(query).get("text", ""))


def _group_posts(desk: Desk) -> list[dict[str, Any]]:
    return [m for m in desk.messages() if m.get("from", {}).get("is_bot")]


def _texts(desk: Desk, topic: int) -> list[str]:
    return [str(m.get("text", m.get("caption", ""))) for m in desk.bot_posts(topic)]


async def _conversation() -> db.Conversation:
    return await db.Conversation.all().order_by("-id").first()  # type: ignore[return-value]


async def test_answered_by_the_bot_and_closed_by_that_helped(desk: Desk,
                                                             start_relay: StartRelay) -> None:
    await start_relay(FAQ)
    anna = desk.customer("Anna")
    await anna.says("hi! is there somewhere to park?")
    answer = await anna.receives(PARKING_EN)
    assert _labels(answer) == [[HELPED], [PERSON]]
    assert await _press(desk, anna, answer, HELPED) == "Done"
    await anna.receives("Glad it helped! Write any time if you have another question.")
    conversation = await _conversation()
    assert conversation.status == "closed" and conversation.close_reason == "self_served"
    assert conversation.topic_id is None
    assert not desk.topics() and not _group_posts(desk)  # nothing reached the group
    # Pressed again: answered, nothing else happens.
    assert await _press(desk, anna, answer, HELPED) == \
        "This conversation is closed: just write your question"
    assert await _press(desk, anna, answer, PERSON) == \
        "This conversation is closed: just write your question"
    assert len([m for m in anna.inbox() if m.get("text", "").startswith("Glad")]) == 1
    assert not desk.topics()


async def test_not_confident_hands_over_with_the_context_post(desk: Desk,
                                                              start_relay: StartRelay) -> None:
    await start_relay(FAQ)
    ivan = desk.customer("Ivan", language_code="ru")
    await ivan.says("Привет")
    await ivan.receives("Здравствуйте! Задайте вопрос: отвечу сразу или передам человеку.")
    await ivan.says("парковка?")
    await ivan.receives("Парковка во дворе, 150 ₽/час.")
    assert not desk.topics()
    await ivan.says("на парковке поцарапали машину, номер брони 3391")
    topic = await desk.topic_with("на парковке поцарапали машину, номер брони 3391")
    card, context, message = _texts(desk, topic)
    assert "Customer #" in card
    assert context.startswith("🤖 The customer talked to the bot first")
    assert "👤 Привет\n   → 🤖 a polite reply" in context
    assert "👤 парковка?\n   → 🤖 answered parking (Есть ли у вас парковка?)" in context
    assert context.endswith("➡️ Handed over: no FAQ answer fits the question.")
    assert message == "на парковке поцарапали машину, номер брони 3391"
    # The bot is silent from now on, even for a question it could answer.
    await ivan.says("а вайфай?")
    await desk.wait(lambda: "а вайфай?" in _texts(desk, topic))
    operator = desk.operator("Olga")
    await operator.says(topic, "Сейчас разберёмся")
    await ivan.receives("Сейчас разберёмся")
    assert not any("LoftHub" in str(m.get("text")) for m in ivan.inbox())


async def test_talk_to_a_person_starts_the_clock_at_the_hand_over(
    desk: Desk, start_relay: StartRelay
) -> None:
    await start_relay(FAQ + SERVICE)
    bob = desk.customer("Bob")
    await bob.says("what's the wifi password?")
    answer = await bob.receives("Network LoftHub, the password is at reception.")
    # The bot answered: no clock, no acknowledgement, no topic.
    assert await db.SlaDeadline.all().count() == 0
    assert not any("operator will reply" in str(m.get("text")) for m in bob.inbox())
    conversation = await _conversation()
    assert conversation.status == "bot"
    assert await _press(desk, bob, answer, PERSON) == "Done"
    await bob.receives("🙋 I'm passing this to a person: they will answer here.")
    await bob.receives("Thanks for your message! An operator will reply within 1 hour.")
    topic = await desk.topic_with("🤖 The customer talked to the bot first\n"
                                  "👤 what's the wifi password?\n"
                                  "   → 🤖 answered wifi (What is the wifi password?)\n"
                                  "➡️ Handed over: the customer pressed 🙋.")
    assert "Customer #" in _texts(desk, topic)[0]
    opened = await _conversation()
    assert opened.status == "open" and opened.topic_id == topic
    deadlines = await db.SlaDeadline.filter(conversation_id=opened.id).order_by("kind")
    assert [d.kind for d in deadlines] == ["first_response"]
    # The clock runs from the hand-over, not from the question the bot answered.
    handed = opened.opened_at.timestamp() * 1_000_000
    assert opened.opened_at > conversation.opened_at
    assert deadlines[0].started_us == int(handed) or abs(deadlines[0].started_us - handed) < 2
    # A late press on the answer changes nothing.
    assert await _press(desk, bob, answer, HELPED) == "A person is already on it"
    assert (await _conversation()).status == "open"
    olga = desk.operator("Olga")
    await olga.says(topic, "/faq wifi")
    await desk.wait(lambda: len([m for m in bob.inbox() if "LoftHub" in str(m.get("text"))])
                    == 2)
    answered = await _conversation()
    assert answered.first_response_at is not None and answered.waiting_since is None
    for _ in range(100):  # the operator's answer stops the clock
        deadline = await db.SlaDeadline.get(conversation_id=opened.id)
        if deadline.stopped_us is not None:
            break
        await asyncio.sleep(0.05)
    assert deadline.stopped_us is not None and deadline.stopped_by == str(olga.user.id)


async def test_faq_command_lists_and_answers_as_the_operator(desk: Desk,
                                                             start_relay: StartRelay) -> None:
    app = await start_relay(FAQ)
    anna = desk.customer("Anna", language_code="ru")
    await anna.says("хочу поговорить с человеком")
    topic = await desk.topic_with("хочу поговорить с человеком")
    await anna.receives("🙋 Передаю ваш вопрос человеку: ответ придёт сюда.")
    await anna.says("где у вас можно оставить авто на день?")
    await desk.wait(lambda: "где у вас можно оставить авто на день?" in _texts(desk, topic))
    olga = desk.operator("Olga")
    await olga.says(topic, "/faq")
    await desk.wait(lambda: any(t.startswith("📚 FAQ") for t in _texts(desk, topic)))
    listing = next(t for t in _texts(desk, topic) if t.startswith("📚 FAQ"))
    assert "• parking — Есть ли у вас парковка?" in listing and "• wifi" in listing
    await olga.says(topic, "/faq nosuch")
    await desk.wait(lambda: any(t.startswith("⚠️ No FAQ entry nosuch") for t in
                                _texts(desk, topic)))
    await olga.says(topic, "/faq parking")
    await anna.receives("Парковка во дворе, 150 ₽/час.")
    conversation = await _conversation()
    assert conversation.first_response_at is not None and conversation.assignee_id == \
        str(olga.user.id)
    # Answered before: on PostgreSQL this one takes intake's one-statement path.
    await olga.says(topic, "/faq wifi")
    await anna.receives("Сеть LoftHub, пароль на стойке.")
    stored = await db.Message.filter(conversation_id=conversation.id, kind="operator")
    assert [m.content["text"] for m in stored] == ["Парковка во дворе, 150 ₽/час.",
                                                   "Сеть LoftHub, пароль на стойке."]
    services = app.services
    assert services is not None and services.selfservice is not None
    expected = [("parking", "ru", "где у вас можно оставить авто на день?", 1),
                ("wifi", "ru", "где у вас можно оставить авто на день?", 1)]
    # The answer's statistics row commits after the answer itself, which the customer may
    # already have received.
    for _ in range(100):
        answers = await services.selfservice.store.operator_answers_by_language()
        if answers == expected:
            break
        await asyncio.sleep(0.05)
    assert answers == expected


async def test_odd_messages_and_presses(desk: Desk, start_relay: StartRelay) -> None:
    app = await start_relay(FAQ)
    cleo = desk.customer("Cleo")
    await cleo.sends("sticker")
    await cleo.receives("👍 If you have a question, just write it here.")
    await cleo.says("🙂🙂")
    await desk.wait(lambda: len([m for m in cleo.inbox() if m.get("text", "").startswith("👍")])
                    == 2)
    await cleo.says("thanks!")
    await cleo.receives("You're welcome! Write if anything else comes up.")
    assert not desk.topics()
    # A forged press (another customer's conversation) is answered with nothing.
    from core.model import InboundPress

    services = app.services
    assert services is not None
    conversation = await _conversation()
    stranger = desk.customer("Mallory")
    await stranger.says("hello")
    await cleo.receives("You're welcome! Write if anything else comes up.")
    forged = InboundPress("telegram", str(stranger.id), str(stranger.id),
                          f"ss:helped:{conversation.id}:en")
    assert await services.presses.press(forged) == ""
    assert await services.presses.press(InboundPress(
        "telegram", str(cleo.id), str(cleo.id), "ss:bogus")) == ""
    assert (await db.Conversation.get(id=conversation.id)).status == "bot"
    # A question as long as Telegram carries: handed over, the topic gets it.
    await cleo.says("почему " * 580)
    await desk.wait(lambda: len(desk.topics()) == 1)
    # A photo in a new conversation of another customer: handed over at once.
    dan = desk.customer("Dan")
    await dan.sends("photo", caption="look at this")
    await desk.wait(lambda: len(desk.topics()) == 2)
    assert not dan.inbox()


async def test_report_has_self_service_lines(desk: Desk, start_relay: StartRelay) -> None:
    await start_relay(FAQ)
    anna, ivan, cleo = desk.customer("Anna"), desk.customer("Ivan"), desk.customer("Cleo")
    await anna.says("is there parking?")
    answer = await anna.receives(PARKING_EN)
    await _press(desk, anna, answer, HELPED)
    await ivan.says("wifi password?")
    await ivan.receives("Network LoftHub, the password is at reception.")
    await ivan.says("Do you sell gift cards?")
    await cleo.says("do you sell gift cards?")
    await desk.wait(lambda: len(desk.topics()) == 2)
    olga = desk.operator("Olga")
    await desk.emu.user_send(olga.user, desk.group, text="/report today")
    await desk.wait(lambda: any("Self-service" in str(m.get("text")) for m in _group_posts(desk)))
    report = next(str(m.get("text")) for m in _group_posts(desk)
                  if "Self-service" in str(m.get("text")))
    assert "Conversations: 2\n" in report  # the people's part leaves the bot's alone out
    assert "🤖 Self-service\nConversations the bot took: 3\nSelf-served: 1\nHanded over: 2\n" \
        "“That helped” rate: 50% (1/2)\nTop unanswered questions:\n" \
        "• do you sell gift cards? ×2" in report

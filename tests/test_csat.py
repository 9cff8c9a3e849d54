"""The satisfaction survey end to end on Telegram (SQLite and PostgreSQL): the real App and
aiogram client against the emulator. After /close the customer rates 1–5; a low rating
asks for a comment, which is kept in the closed conversation; the topic shows both and
stays closed; /report counts them per operator and channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bots.app import App
from storage import models as db
from tests.harness import Customer, Desk, Operator, StartRelay, relay_config
from tests.test_selfservice import FAQ, PARKING_EN

QUESTION = "How did we do? Rate our answer from 1 to 5."
ASK_COMMENT = "What could we do better? Write it in one message."


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text", m.get("caption", "")))


def _labels(message: dict[str, Any]) -> list[list[str]]:
    return [[b["text"] for b in row] for row in message["reply_markup"]["inline_keyboard"]]


async def press(desk: Desk, customer: Customer, message: dict[str, Any], label: str) -> str:
    data = next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"]
                for b in row if b["text"] == label)
    query = await desk.emu.user_press_button(customer.user, customer.id,
                                             message["message_id"], data)
    await desk.wait(lambda: desk.emu.callback_answer(query) is not None)
    return str(desk.emu.callback_answer(query).get("text", ""))


async def answered_and_closed(desk: Desk, customer: Customer, operator: Operator,
                              question: str) -> int:
    await customer.says(question)
    topic = await desk.topic_with(question)
    await operator.says(topic, f"answer to {question}")
    await customer.receives(f"answer to {question}")
    await operator.says(topic, "/close")
    await desk.wait(lambda: any(_text(m).startswith("✅") for m in desk.bot_posts(topic)))
    return topic


def topic_posts(desk: Desk, topic: int) -> list[str]:
    return [_text(m) for m in desk.bot_posts(topic)]


def is_closed(desk: Desk, topic: int) -> bool:
    return next(t for t in desk.topics() if t["message_thread_id"] == topic)["closed"]


def general(desk: Desk, prefix: str) -> list[str]:
    return [_text(m) for m in desk.messages() if m.get("from", {}).get("is_bot")
            and not m.get("message_thread_id") and _text(m).startswith(prefix)]


async def test_low_rating_with_a_comment_then_the_report(desk: Desk,
                                                        start_relay: StartRelay) -> None:
    await start_relay()
    anna, olga = desk.customer("Anna"), desk.operator("Olga")
    topic = await answered_and_closed(desk, anna, olga, "my order is late")
    survey = await anna.receives(QUESTION)
    assert _labels(survey) == [["1", "2", "3", "4", "5"]]
    assert await press(desk, anna, survey, "2") == "Thank you!"
    await anna.receives(ASK_COMMENT)
    await desk.wait(lambda: "⭐ 2/5" in topic_posts(desk, topic))
    await anna.says("the courier was two hours late")
    await anna.receives("Thank you, we will pass it on to the team.")
    await desk.wait(lambda: "⭐ 2/5 — “the courier was two hours late”" in
                    topic_posts(desk, topic))
    await desk.wait(lambda: is_closed(desk, topic))
    # The comment is kept in the closed conversation: no new one, nothing relayed.
    conversations = await db.Conversation.all()
    assert [c.status for c in conversations] == ["closed"]
    comment = await db.Message.filter(kind="customer").order_by("-id").first()
    assert comment is not None and comment.conversation_id == conversations[0].id
    assert "the courier was two hours late" not in topic_posts(desk, topic)
    # A second press changes nothing; the rating stays.
    assert await press(desk, anna, survey, "5") == "You have rated it already"
    row = await db.CsatSurvey.get(conversation_id=conversations[0].id)
    assert (row.rating, row.comment, row.operator_name) == (
        2, "the courier was two hours late", "Olga")
    # The next message is a question again: a new conversation in the same topic.
    await anna.says("and where is my refund?")
    await desk.wait(lambda: "and where is my refund?" in [_text(m) for m in
                                                           desk.messages(topic)])
    assert await db.Conversation.filter(status="open").count() == 1
    await desk.emu.user_send(olga.user, desk.group, text="/report today")
    await desk.wait(lambda: general(desk, "📊"))
    report = general(desk, "📊")[0]
    assert "⭐ Satisfaction (CSAT)\nOverall: 0% (0/1)\nBy operator: Olga 0% (0/1)\n" \
           "By channel: telegram 0% (0/1)" in report


async def test_high_ratings_count_per_operator_in_russian(desk: Desk,
                                                          start_relay: StartRelay) -> None:
    app = await start_relay()
    ivan = desk.customer("Ivan", language_code="ru")
    olga, petr = desk.operator("Olga"), desk.operator("Petr")
    # /reopen is typed in a closed topic: by a group admin who may manage topics.
    desk.emu.add_member(desk.group, olga.user, admin=True, can_manage_topics=True)
    topic = await answered_and_closed(desk, ivan, olga, "где заказ?")
    survey = await ivan.receives("Как мы справились? Оцените ответ от 1 до 5.")
    assert await press(desk, ivan, survey, "5") == "Спасибо!"
    await ivan.receives("Спасибо за оценку!")
    await desk.wait(lambda: "⭐ 5/5" in topic_posts(desk, topic))
    # Closed, reopened, answered by another operator, closed again: no second survey.
    await olga.says(topic, "/reopen")
    await desk.wait(lambda: any(_text(m).startswith("🔓") or "reopened" in _text(m)
                                for m in desk.bot_posts(topic)))
    await petr.says(topic, "ещё кое-что")
    await ivan.receives("ещё кое-что")
    await petr.says(topic, "/close")
    await desk.wait(lambda: len([t for t in topic_posts(desk, topic) if t.startswith("✅")])
                    == 2)
    mary = desk.customer("Mary")
    await answered_and_closed(desk, mary, petr, "is it open today?")
    mary_survey = await mary.receives(QUESTION)
    assert await press(desk, mary, mary_survey, "4") == "Thank you!"
    await mary.receives("Thank you for your rating!")
    assert len([m for m in ivan.inbox() if _text(m).startswith("Как мы")]) == 1
    assert app.services is not None
    html = await app.services.controls.report("today")
    assert "Overall: 100% (2/2)\nBy operator: Olga 100% (1/1), Petr 100% (1/1)\n" \
           "By channel: telegram 100% (2/2)" in html


async def test_a_new_question_instead_of_a_rating(desk: Desk, start_relay: StartRelay) -> None:
    await start_relay()
    bob, olga = desk.customer("Bob"), desk.operator("Olga")
    topic = await answered_and_closed(desk, bob, olga, "first question")
    survey = await bob.receives(QUESTION)
    await bob.says("second question")
    await desk.wait(lambda: "second question" in [_text(m) for m in desk.messages(topic)])
    assert await db.Conversation.filter(status="open").count() == 1
    # A rating pressed later is recorded, and never reopens or closes anything.
    assert await press(desk, bob, survey, "4") == "Thank you!"
    await desk.wait(lambda: "⭐ 4/5" in topic_posts(desk, topic))
    await olga.says(topic, "still here")
    await bob.receives("still here")
    assert not is_closed(desk, topic)
    assert await db.Conversation.filter(status="open").count() == 1


async def test_no_survey_when_unreachable_or_self_served(desk: Desk,
                                                         start_relay: StartRelay) -> None:
    await start_relay(FAQ)
    anna, olga = desk.customer("Anna"), desk.operator("Olga")
    await anna.says("where can I park?")
    answer = await anna.receives(PARKING_EN)
    data = answer["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await desk.emu.user_press_button(anna.user, anna.id, answer["message_id"], data)
    await anna.receives("Glad it helped! Write any time if you have another question.")
    # Handed over, answered, then the customer blocks the bot before /close.
    zoe = desk.customer("Zoe")
    await zoe.says("I need a person please, my invoice is wrong")
    topic = await desk.topic_with("I need a person please, my invoice is wrong")
    await olga.says(topic, "fixing it")
    await zoe.receives("fixing it")
    await zoe.blocks_bot()
    await desk.wait(lambda: any("blocked the bot" in t for t in topic_posts(desk, topic)))
    await olga.says(topic, "/close")
    await desk.wait(lambda: any(t.startswith("✅") for t in topic_posts(desk, topic)))
    # Closed without an answer (spam, a duplicate): nothing to rate.
    sam = desk.customer("Sam")
    await sam.says("I need a person: buy cheap followers at example.com")
    spam = await desk.topic_with("I need a person: buy cheap followers at example.com")
    await olga.says(spam, "/close")
    await desk.wait(lambda: any(t.startswith("✅") for t in topic_posts(desk, spam)))
    assert await db.CsatSurvey.all().count() == 0
    assert not [m for m in anna.inbox() + zoe.inbox() + sam.inbox() if _text(m) == QUESTION]


class MovableClock:
    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


async def test_the_buttons_expire(db_url: str, desk: Desk) -> None:
    clock = MovableClock()
    app = App(relay_config(db_url, desk.emu.base_url, desk.group,
                           extra="csat: {expires: 2h, comment_wait: 5m}"), clock)
    await app.start()
    try:
        anna, olga = desk.customer("Anna"), desk.operator("Olga")
        topic = await answered_and_closed(desk, anna, olga, "hello")
        survey = await anna.receives(QUESTION)
        clock.ahead = timedelta(hours=2, minutes=1)
        assert await press(desk, anna, survey, "1") == "This survey has expired"
        row = await db.CsatSurvey.get()
        assert row.rating is None
        # Their next message is a conversation, not a comment.
        await anna.says("hello again")
        await desk.wait(lambda: "hello again" in [_text(m) for m in desk.messages(topic)])
        assert "⭐ 1/5" not in topic_posts(desk, topic)
    finally:
        await app.stop()

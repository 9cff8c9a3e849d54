"""The satisfaction survey on VK (SQLite and PostgreSQL): callback buttons 1–5 under the
question, a press answered with a snackbar, a low rating's comment from the same chat, a
second press; no survey for a customer who no longer allows the community's messages."""

from __future__ import annotations

from typing import Any

from storage import models as db
from tests.harness import Desk
from tests.test_csat import general, is_closed, topic_posts
from tests.vk_harness import StartVkRelay, VkCustomer, VkSide

QUESTION_RU = "Как мы справились? Оцените ответ от 1 до 5."


def _actions(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b["action"] for row in message["keyboard"]["buttons"] for b in row]


async def _press(vk: VkSide, customer: VkCustomer, message: dict[str, Any], label: str
                 ) -> dict[str, Any]:
    action = next(a for a in _actions(message) if a["label"] == label)
    event = await vk.emu.user_press_button(customer.user, vk.club, action["payload"])
    await vk.emu.wait_for(lambda: vk.emu.event_answer(vk.club, event["event_id"]) is not None,
                          10, "the press is answered")
    answer: dict[str, Any] = vk.emu.event_answer(vk.club, event["event_id"])
    return answer


async def _answered_and_closed(desk: Desk, customer: VkCustomer, question: str) -> int:
    olga = desk.operator("Olga")
    await customer.says(question)
    topic = await desk.topic_with(question)
    await olga.says(topic, "Сейчас проверю")
    await customer.receives("Сейчас проверю")
    await olga.says(topic, "/close")
    await desk.wait(lambda: any(t.startswith("✅") for t in topic_posts(desk, topic)))
    return topic


async def test_vk_rating_comment_and_second_press(desk: Desk, vk: VkSide,
                                                  start_vk_relay: StartVkRelay) -> None:
    app = await start_vk_relay()
    anna = vk.customer("Anna", "Smirnova", lang_id=0)  # Russian
    topic = await _answered_and_closed(desk, anna, "Где мой заказ?")
    survey = await anna.receives(QUESTION_RU)
    assert [a["label"] for a in _actions(survey)] == ["1", "2", "3", "4", "5"]
    assert all(a["type"] == "callback" for a in _actions(survey))
    assert await _press(vk, anna, survey, "3") == {"type": "show_snackbar", "text": "Спасибо!"}
    await anna.receives("Что нам сделать лучше? Напишите одним сообщением.")
    await anna.says("Долго отвечали")
    await anna.receives("Спасибо, передадим команде.")
    await desk.wait(lambda: "⭐ 3/5 — “Долго отвечали”" in topic_posts(desk, topic))
    await desk.wait(lambda: is_closed(desk, topic))
    assert "Долго отвечали" not in topic_posts(desk, topic)
    assert await db.Conversation.filter(status="open").count() == 0
    again = await _press(vk, anna, survey, "5")
    assert again["text"] == "Вы уже поставили оценку"
    assert (await db.CsatSurvey.get()).rating == 3
    assert app.services is not None
    await app.services.controls.report("today")
    await desk.wait(lambda: general(desk, "📊"))
    assert "By channel: vk 0% (0/1)" in general(desk, "📊")[0]


async def test_vk_no_survey_for_an_unreachable_customer(desk: Desk, vk: VkSide,
                                                        start_vk_relay: StartVkRelay) -> None:
    await start_vk_relay()
    ivan = vk.customer("Ivan", "Petrov", lang_id=3)  # English
    olga = desk.operator("Olga")
    await ivan.says("hello")
    topic = await desk.topic_with("hello")
    ivan.denies()
    await olga.says(topic, "are you there?")
    await desk.wait(lambda: any("Not delivered" in t for t in topic_posts(desk, topic)))
    await olga.says(topic, "/close")
    await desk.wait(lambda: any(t.startswith("✅") for t in topic_posts(desk, topic)))
    assert await db.CsatSurvey.all().count() == 0

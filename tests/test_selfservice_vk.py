"""Self-service end to end on VK (SQLite and PostgreSQL): answers with callback buttons built
by vk_api's VkKeyboard, "That helped" from a callback press, "Talk to a person" from a
client without callback buttons (the label as a message with the payload), hand-over."""

from __future__ import annotations

import json
from typing import Any

from storage import models as db
from tests.harness import Desk
from tests.test_selfservice import FAQ
from tests.vk_harness import StartVkRelay, VkCustomer, VkSide, bot_texts

PARKING_RU = "Парковка во дворе, 150 ₽/час."


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b["action"] for row in message["keyboard"]["buttons"] for b in row]


async def _press(vk: VkSide, customer: VkCustomer, message: dict[str, Any], label: str
                 ) -> dict[str, Any]:
    action = next(a for a in _buttons(message) if a["label"] == label)
    event = await vk.emu.user_press_button(customer.user, vk.club, action["payload"])
    await vk.emu.wait_for(lambda: vk.emu.event_answer(vk.club, event["event_id"]) is not None,
                          10, "the press is answered")
    answer: dict[str, Any] = vk.emu.event_answer(vk.club, event["event_id"])
    return answer


async def test_vk_answer_closed_by_that_helped(desk: Desk, vk: VkSide,
                                               start_vk_relay: StartVkRelay) -> None:
    await start_vk_relay(FAQ)
    anna = vk.customer("Anna", "Smirnova", lang_id=0)  # Russian
    await anna.says("Здравствуйте! Где у вас можно оставить машину?")
    answer = await anna.receives(PARKING_RU)
    assert [a["label"] for a in _buttons(answer)] == ["✅ Помогло", "🙋 Позвать человека"]
    assert answer["keyboard"]["inline"]
    assert await _press(vk, anna, answer, "✅ Помогло") == {"type": "show_snackbar",
                                                           "text": "Готово"}
    await anna.receives("Рад, что помог! Если появится другой вопрос — пишите.")
    conversation = await db.Conversation.all().order_by("-id").first()
    assert conversation is not None and conversation.close_reason == "self_served"
    assert not desk.topics()
    again = await _press(vk, anna, answer, "✅ Помогло")
    assert again["text"] == "Этот разговор закрыт: просто напишите ваш вопрос"


async def test_vk_talk_to_a_person_from_a_text_button(desk: Desk, vk: VkSide,
                                                      start_vk_relay: StartVkRelay) -> None:
    await start_vk_relay(FAQ)
    ivan = vk.customer("Ivan", "Petrov", lang_id=3)  # English
    await ivan.says("where can I park my car?")
    answer = await ivan.receives(
        "Parking in the courtyard, 150 ₽/hour. <Free> for residents & guests.")
    action = next(a for a in _buttons(answer) if a["label"] == "🙋 Talk to a person")
    # A client without callback buttons sends the label with the payload.
    await ivan.says("🙋 Talk to a person", payload=json.loads(action["payload"]))
    await ivan.receives("🙋 I'm passing this to a person: they will answer here.")
    topic = await desk.topic_with(
        "🤖 The customer talked to the bot first\n👤 where can I park my car?\n"
        "   → 🤖 answered parking (Is there parking?)\n"
        "➡️ Handed over: the customer pressed 🙋.")
    assert "Ivan Petrov" in bot_texts(desk, topic)[0]
    # A very long question afterwards goes to the topic, the bot says nothing more.
    await ivan.says("why " * 1250)
    await desk.wait(lambda: len(bot_texts(desk, topic)) >= 3)
    assert len([m for m in ivan.inbox() if m["text"].startswith("🙋")]) == 1

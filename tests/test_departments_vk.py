"""Departments on VK (SQLite and PostgreSQL): the routing question with a VK keyboard, in the
customer's language; a callback press or a text button (a client without callback buttons)
routes the customer; the answer from the department's group reaches them on VK."""

from __future__ import annotations

import json
from typing import Any

from tests.harness import Desk
from tests.test_departments import _departments, _groups, _operator_in, _topic_in
from tests.vk_harness import StartVkRelay, VkSide


def _actions(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b["action"] for row in message["keyboard"]["buttons"] for b in row]


async def test_vk_customer_chooses_with_the_keyboard(desk: Desk, vk: VkSide,
                                                     start_vk_relay: StartVkRelay) -> None:
    sales, tech = _groups(desk)
    await start_vk_relay(_departments(sales, tech))
    anna = vk.customer("Anna", "Smirnova", lang_id=0)  # Russian
    await anna.says("Не работает приложение")
    question = await anna.receives("Здравствуйте! Выберите, пожалуйста, с чем вам помочь:")
    assert [a["label"] for a in _actions(question)] == ["Покупка и оплата", "Техподдержка"]
    action = next(a for a in _actions(question) if a["label"] == "Техподдержка")
    event = await vk.emu.user_press_button(anna.user, vk.club, action["payload"])
    await vk.emu.wait_for(lambda: vk.emu.event_answer(vk.club, event["event_id"]) is not None,
                          10, "the press is answered")
    await anna.receives("Спасибо! Ваш вопрос передан: Техподдержка. Оператор скоро ответит.")
    topic = await _topic_in(desk, tech, "Не работает приложение")
    await _operator_in(desk, tech, "Timur").says(topic, "Переустановите, пожалуйста")
    await anna.receives("Переустановите, пожалуйста")
    assert desk.emu.topics(sales) == [] and desk.topics() == []


async def test_vk_text_button_routes_too(desk: Desk, vk: VkSide,
                                         start_vk_relay: StartVkRelay) -> None:
    sales, tech = _groups(desk)
    await start_vk_relay(_departments(sales, tech))
    ivan = vk.customer("Ivan", "Petrov", lang_id=3)  # English
    await ivan.says("I want to pay by invoice")
    question = await ivan.receives("Hello! Please choose who can help you:")
    action = next(a for a in _actions(question) if a["label"] == "Buying and payment")
    # A client without callback buttons sends the label with the payload.
    await ivan.says("Buying and payment", payload=json.loads(action["payload"]))
    await ivan.receives("Thank you! Your question is with Buying and payment. An operator "
                        "will answer soon.")
    topic = await _topic_in(desk, sales, "I want to pay by invoice")
    await _operator_in(desk, sales, "Sofia").says(topic, "Sure, send your details")
    await ivan.receives("Sure, send your details")

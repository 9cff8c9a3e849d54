"""Service levels for VK customers: the same core clock as Telegram, through the VK channel.

A VK customer is acknowledged in their VK language (`lang_id`), and an answer a community
admin types in VK's own web inbox (message_reply) is a human answer: it stops the clock, so
no reminder and no escalation follow, and `/report` counts it as on time."""

from __future__ import annotations

from typing import Any

from tests.harness import Desk
from tests.vk_harness import StartVkRelay, VkSide

SERVICE = """
service:
  targets: {first_response: 3s, next_response: 1h, business_hours: false}
  remind_before: 2s
  sweep_interval: 200ms
  title_debounce: 300ms
  daily_report: "off"
"""


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text") or "")


async def test_vk_customer_is_acknowledged_in_their_language(
    desk: Desk, vk: VkSide, start_vk_relay: StartVkRelay
) -> None:
    await start_vk_relay(SERVICE)
    ivan = vk.customer("Ivan", "Petrov", lang_id=0)  # VK's 0: Russian
    kate = vk.customer("Kate", "Smith", lang_id=3)  # VK's 3: English
    await ivan.says("привет")
    await kate.says("hello")
    await ivan.receives("Спасибо за сообщение! Оператор ответит в течение 3 секунд.")
    await kate.receives("Thanks for your message! An operator will reply within 3 seconds.")


async def test_admin_answer_in_vk_inbox_stops_the_clock(
    desk: Desk, vk: VkSide, start_vk_relay: StartVkRelay
) -> None:
    app = await start_vk_relay(SERVICE.replace("first_response: 3s", "first_response: 4s"))
    anna = vk.customer(lang_id=3)
    await anna.says("where is my order?")
    topic = await desk.topic_with("where is my order?")
    await vk.admin_replies(anna, "Pavel here: it left today")
    await desk.wait(lambda: any("Pavel here: it left today" in _text(m)
                                for m in desk.bot_posts(topic)))
    # The clock stopped: the report counts the answer, on time, and nothing is left waiting.
    assert app.services is not None
    await app.services.controls.report("today", chart=False)
    await desk.wait(lambda: any(_text(m).startswith("📊") for m in desk.messages()
                                if not m.get("message_thread_id")))
    report = next(_text(m) for m in desk.messages() if _text(m).startswith("📊"))
    assert "SLA hit rate: 100% (1/1)" in report
    store = app.services.store
    conversation = await store.conversation_by_topic(topic)
    assert conversation is not None and conversation.waiting_since is None
    assert conversation.answered_at is not None
    assert not any(_text(m).startswith("⏰") for m in desk.bot_posts(topic))

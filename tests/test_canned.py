"""Canned replies: `/t` end to end on Telegram and VK (SQLite and PostgreSQL) — a reply in
the customer's language as the operator's answer, the list, an unknown name, a missing
language — and `relaydesk check` catching a broken template before start."""

from __future__ import annotations

from pathlib import Path

from bots.config import check_config_file
from storage import models as db
from tests.harness import Desk, StartRelay
from tests.test_csat import topic_posts
from tests.vk_harness import StartVkRelay, VkSide

CANNED = """
canned:
  hello:
    ru: "Здравствуйте, {{ customer.first_name }}! Меня зовут {{ operator.first_name }}, чем помочь?"
    en: "Hello {{ customer.first_name }}! I'm {{ operator.first_name }}. How can I help?"
  number:
    en: "Your request is #{{ conversation.number }}; we open at {{ next_opening }}."
"""


async def test_t_sends_in_the_customers_language_as_the_operators_answer(
        desk: Desk, start_relay: StartRelay) -> None:
    await start_relay(CANNED)
    anna, ivan = desk.customer("Anna", "Lee"), desk.customer("Иван", language_code="ru")
    olga = desk.operator("Olga")
    await anna.says("hi there")
    topic = await desk.topic_with("hi there")
    await olga.says(topic, "/t hello")
    await anna.receives("Hello Anna! I'm Olga. How can I help?")
    stored = await db.Message.filter(kind="operator").order_by("-id").first()
    assert stored is not None and stored.author_name == "Olga"
    conversation = await db.Conversation.get(topic_id=topic)
    assert conversation.first_response_at is not None  # a human answer: the clock stops
    await ivan.says("добрый день")
    ivan_topic = await desk.topic_with("добрый день")
    await olga.says(ivan_topic, "/t hello")
    await ivan.receives("Здравствуйте, Иван! Меня зовут Olga, чем помочь?")


async def test_t_lists_and_refuses_unknown_names_and_languages(
        desk: Desk, start_relay: StartRelay) -> None:
    await start_relay(CANNED)
    hans, olga = desk.customer("Hans", language_code="de"), desk.operator("Olga")
    await hans.says("Guten Tag")
    topic = await desk.topic_with("Guten Tag")
    await olga.says(topic, "/t")
    listing = "💬 Canned replies: /t name sends one to the customer\n" \
              "• hello — Здравствуйте, {{ customer.first_name }}! Меня зовут…\n" \
              "• number — Your request is #{{ conversation.number }};…"
    await desk.wait(lambda: any(t.startswith("💬") for t in topic_posts(desk, topic)))
    await desk.wait(lambda: listing in topic_posts(desk, topic))
    await olga.says(topic, "/t helo")
    await desk.wait(lambda: any(t.startswith("⚠️ No canned reply helo.\n💬 Canned replies")
                                for t in topic_posts(desk, topic)))
    await olga.says(topic, "/t hello")
    await desk.wait(lambda: "⚠️ hello has no text in de (it has ru, en): nothing was sent. "
                    "Add it under canned: in config.yaml." in topic_posts(desk, topic))
    assert hans.inbox() == []
    assert await db.Message.filter(kind="operator").count() == 0


async def test_vk_t_with_the_conversation_number(desk: Desk, vk: VkSide,
                                                 start_vk_relay: StartVkRelay) -> None:
    await start_vk_relay(CANNED)
    ivan = vk.customer("Ivan", "Petrov", lang_id=3)  # English
    await ivan.says("where is my order")
    topic = await desk.topic_with("where is my order")
    conversation = await db.Conversation.get(topic_id=topic)
    await desk.operator("Olga").says(topic, "/t number")
    await vk.emu.wait_for(lambda: any(m["text"].startswith(
        f"Your request is #{conversation.id}; we open at ") for m in ivan.inbox()), 10, "/t")


def test_check_reports_a_broken_template_with_its_key_path(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("""
telegram: {token: "123:abc"}
operators: {chat_id: -1001234567890}
canned:
  hello:
    en: "Hello {{ customer.first_name }}!"
    ru: "Здравствуйте, {{ customer.name }}!"
  bye:
    en: "Bye {{ customer.first_name "
""", encoding="utf-8")
    code, text = check_config_file(config)
    assert code == 2
    assert "line 7: canned.hello.ru: the template fails with sample values: unknown " \
           "variable: Person has no attribute 'name'" in text
    assert "line 9: canned.bye.en: the template fails with sample values: syntax error: " \
           "unexpected end of template" in text
    assert "123:abc" not in text

"""Departments end to end on Telegram (SQLite and PostgreSQL): the real App and aiogram
client against the emulator, with the operator group and two departments' own groups.
A new customer chooses a team with buttons (or gets the default after `routing.ask_wait`, or
the department of the FAQ entry that handed them over); the topic is made in that team's
group with the card naming it, and operators answer from there."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.telegram.startup import DeskSetupError
from bots.app import App
from bots.config import summarize
from bots.config_errors import ConfigError
from storage import models as db
from tests.harness import Desk, Operator, StartRelay, relay_config

SALES, TECH = "Buying and payment", "Technical support"


def _departments(sales: int, tech: int, *, ask_wait: str = "1h", ask: bool = True) -> str:
    return f"""
departments:
  - id: sales
    names: {{ru: "Покупка и оплата", en: "{SALES}"}}
    chat_id: {sales}
  - id: tech
    names: {{ru: "Техподдержка", en: "{TECH}"}}
    chat_id: {tech}
routing: {{ask: {str(ask).lower()}, default: tech, ask_wait: {ask_wait}}}
"""


def _groups(desk: Desk) -> tuple[int, int]:
    emu = desk.emu
    return (emu.create_supergroup(title="Sales", forum=True),
            emu.create_supergroup(title="Tech", forum=True))


def _bot_texts(desk: Desk, group: int) -> list[str]:
    return [str(m.get("text", m.get("caption", ""))) for m in desk.emu.messages(group)
            if m.get("from", {}).get("is_bot") and "forum_topic_created" not in m]


def _data(message: dict[str, Any], label: str) -> str:
    return next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"]
                for b in row if b["text"] == label)


async def _choose(desk: Desk, customer: Any, question: dict[str, Any], label: str) -> str:
    query = await desk.emu.user_press_button(customer.user, customer.id,
                                             question["message_id"], _data(question, label))
    await desk.wait(lambda: desk.emu.callback_answer(query) is not None)
    return str(desk.emu.callback_answer(query).get("text", ""))


async def _topic_in(desk: Desk, group: int, text: str) -> int:
    def found() -> dict[str, Any] | None:
        return next((m for m in desk.emu.messages(group) if m.get("from", {}).get("is_bot")
                     and m.get("text") == text), None)
    await desk.wait(lambda: found() is not None)
    message = found()
    assert message is not None
    return int(message["message_thread_id"])


def _operator_in(desk: Desk, group: int, name: str) -> Operator:
    user = desk.emu.add_user(first_name=name, last_name=None, username=None,
                             language_code="en", is_premium=False)
    desk.emu.add_member(group, user)
    return Operator(desk.emu, user, group)


async def test_a_customer_chooses_a_department_and_its_group_answers(
        desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(_departments(sales, tech))
    anna = desk.customer("Anna")
    await anna.says("how much is the yearly plan?")
    question = await anna.receives("Hello! Please choose who can help you:")
    assert [[b["text"] for b in row] for row in question["reply_markup"]["inline_keyboard"]] \
        == [[SALES], [TECH]]
    assert desk.topics() == [] and desk.emu.topics(sales) == []  # nothing before the choice
    await anna.says("and is there a discount?")  # written while choosing: held, not lost
    assert await _choose(desk, anna, question, SALES) == SALES
    await anna.receives(f"Thank you! Your question is with {SALES}. An operator will "
                        "answer soon.")
    topic = await _topic_in(desk, sales, "how much is the yearly plan?")
    await _topic_in(desk, sales, "and is there a discount?")
    texts = _bot_texts(desk, sales)
    assert any(f"Department: {SALES}" in t for t in texts)  # the card names it
    assert any("Department: " + SALES + " (chosen by the customer)" in t for t in texts)
    assert desk.topics() == [] and desk.emu.topics(tech) == []
    # Operators of the sales group answer from there; the customer gets it.
    olga = _operator_in(desk, sales, "Olga")
    await olga.says(topic, "20% off this week")
    await anna.receives("20% off this week")
    # A second press changes nothing.
    assert await _choose(desk, anna, question, TECH) == "Your question is already with us."
    conversation = await db.Conversation.get(customer_id=1)
    assert (conversation.department, conversation.desk_chat) == ("sales", str(sales))


async def test_two_groups_with_the_same_topic_ids_keep_their_conversations_apart(
        desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(_departments(sales, tech))
    anna, boris = desk.customer("Anna"), desk.customer("Boris")
    await anna.says("billing question")
    await boris.says("the app crashes")
    q_anna = await anna.receives("Hello! Please choose who can help you:")
    q_boris = await boris.receives("Hello! Please choose who can help you:")
    await _choose(desk, anna, q_anna, SALES)
    await _choose(desk, boris, q_boris, TECH)
    in_sales = await _topic_in(desk, sales, "billing question")
    in_tech = await _topic_in(desk, tech, "the app crashes")
    assert in_sales == in_tech  # each group numbers its own topics
    await _operator_in(desk, tech, "Timur").says(in_tech, "reinstall, please")
    await _operator_in(desk, sales, "Sofia").says(in_sales, "invoice sent")
    await boris.receives("reinstall, please")
    await anna.receives("invoice sent")
    assert "invoice sent" not in [m.get("text") for m in boris.inbox()]
    # /close in one group closes that group's conversation only.
    await _operator_in(desk, tech, "Tanya").says(in_tech, "/close")
    await desk.wait(lambda: any("closed by Tanya" in t for t in _bot_texts(desk, tech)))
    statuses = {c.desk_chat: c.status for c in await db.Conversation.all()}
    assert statuses == {str(sales): "open", str(tech): "closed"}


async def test_no_choice_within_the_wait_goes_to_the_default(
        desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(_departments(sales, tech, ask_wait="1s"))
    vera = desk.customer("Vera")
    await vera.says("my router blinks red")
    await vera.receives("Hello! Please choose who can help you:")
    topic = await _topic_in(desk, tech, "my router blinks red")
    assert any("did not choose in time" in t for t in _bot_texts(desk, tech))
    assert any(f"Department: {TECH}" in t for t in _bot_texts(desk, tech))
    await _operator_in(desk, tech, "Timur").says(topic, "unplug it for 10 seconds")
    await vera.receives("unplug it for 10 seconds")


async def test_an_faq_entry_names_the_department(desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    faq = """
faq:
  - id: refund
    department: sales
    en: {question: "How do I get a refund?", answer: "Write to us with the order number."}
"""
    await start_relay(_departments(sales, tech) + faq)
    ivan = desk.customer("Ivan")
    await ivan.says("how do I get a refund?")
    answer = await ivan.receives("Write to us with the order number.")
    await _choose(desk, ivan, answer, "🙋 Talk to a person")
    await desk.wait(lambda: any(f"Department: {SALES}" in t for t in _bot_texts(desk, sales)))
    assert desk.emu.topics(tech) == [] and desk.topics() == []


async def test_without_asking_new_customers_go_to_the_default(
        desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(_departments(sales, tech, ask=False))
    gleb = desk.customer("Gleb")
    await gleb.says("hello?")
    topic = await _topic_in(desk, tech, "hello?")
    await _operator_in(desk, tech, "Timur").says(topic, "hi Gleb")
    await gleb.receives("hi Gleb")


async def test_a_department_group_that_is_not_a_forum_is_named(
        desk: Desk, db_url: str) -> None:
    sales = desk.emu.create_supergroup(title="Sales", forum=False)
    tech = desk.emu.create_supergroup(title="Tech", forum=True)
    app = App(relay_config(db_url, desk.emu.base_url, desk.group,
                           extra=_departments(sales, tech)))
    with pytest.raises(DeskSetupError) as caught:
        await app.start()
    await app.stop()
    assert f"departments[0].chat_id: chat {sales} is not a forum" in str(caught.value)


@pytest.mark.parametrize(("extra", "expected"), [
    ("""
departments:
  - {id: sales, names: {en: Sales}, chat_id: -1001111111111}
  - {id: sales, names: {en: Tech}, chat_id: -1002222222222}
""", "duplicate id 'sales'"),
    ("""
departments:
  - {id: sales, names: {en: Sales}, chat_id: -1001111111111}
  - {id: tech, names: {en: Tech}, chat_id: -1001111111111}
""", "shared_group: true"),
    ("""
departments:
  - {id: sales, names: {en: Sales}, chat_id: -1001111111111}
routing: {default: billing}
""", "routing.default: 'billing' is no department"),
    ("""
departments:
  - {id: sales, names: {en: Sales}, chat_id: 12345}
""", "not a forum supergroup id"),
    ("""
departments:
  - {id: sales, names: {en: Sales}, chat_id: -1001111111111}
faq:
  - id: refund
    department: billing
    en: {question: "Refund?", answer: "Write to us."}
""", "faq[0].department: 'billing' is no department"),
    ("""
routing: {default: sales}
""", "routing: there are no departments"),
])
def test_bad_departments_config_is_named(extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        relay_config("sqlite://:memory:", "http://127.0.0.1:1", -1009999999999, extra=extra)
    assert expected in str(caught.value)


def test_check_summarizes_the_departments() -> None:

    config = relay_config("sqlite://:memory:", "http://127.0.0.1:1", -1009999999999,
                          extra=_departments(-1001111111111, -1002222222222))
    assert "  departments: sales, tech in 2 groups, new customers choose, default tech" \
        in summarize(config)
    plain = relay_config("sqlite://:memory:", "http://127.0.0.1:1", -1009999999999)
    assert "  departments: off (one team in chat -1009999999999)" in summarize(plain)


async def test_two_departments_sharing_one_group(desk: Desk, start_relay: StartRelay) -> None:
    shared = desk.emu.create_supergroup(title="Front desk", forum=True)
    extra = _departments(shared, shared).replace(
        f"chat_id: {shared}\n", f"chat_id: {shared}\n    shared_group: true\n")
    await start_relay(extra)
    anna, boris = desk.customer("Anna"), desk.customer("Boris")
    await anna.says("a question about payment")
    await _choose(desk, anna, await anna.receives("Hello! Please choose who can help you:"),
                  SALES)
    await boris.says("a question about the app")
    await _choose(desk, boris, await boris.receives("Hello! Please choose who can help you:"),
                  TECH)
    a_topic = await _topic_in(desk, shared, "a question about payment")
    b_topic = await _topic_in(desk, shared, "a question about the app")
    assert a_topic != b_topic and desk.topics() == []
    texts = _bot_texts(desk, shared)
    assert any(f"Department: {SALES}" in t for t in texts)
    assert any(f"Department: {TECH}" in t for t in texts)
    operator = _operator_in(desk, shared, "Olga")
    await operator.says(b_topic, "which version?")
    await boris.receives("which version?")
    # A transfer within the shared group makes a new topic there, with the card.
    await operator.says(a_topic, "/transfer tech")
    await anna.receives(f"Your question has been passed to {TECH}; they will answer here.")
    def tech_cards() -> list[str]:
        return [t for t in _bot_texts(desk, shared)
                if t.startswith("👤") and f"Department: {TECH}" in t]

    await desk.wait(lambda: len(tech_cards()) == 2)  # Boris's, and Anna's new one
    assert "Anna" in tech_cards()[1]
    conversation = await db.Conversation.get(customer_id=1)
    assert conversation.department == "tech" and conversation.desk_chat == str(shared)
    assert conversation.topic_id is not None and conversation.topic_id not in (a_topic,
                                                                               b_topic)

"""`/transfer` end to end on Telegram (SQLite and PostgreSQL): the conversation moves to
another department's group and back; the old topic gets a pointer and is closed, the new one
the card and the history; the customer is told; answers come from the new topic only; the
wait is not touched; edits and replies to messages from before the transfer still arrive."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.telegram.errors import ControlError
from storage import models as db
from tests.harness import Desk, StartRelay
from tests.test_departments import (
    SALES,
    TECH,
    _bot_texts,
    _choose,
    _departments,
    _groups,
    _operator_in,
    _topic_in,
)


def _text(message: dict[str, Any]) -> str:
    return str(message.get("text", message.get("caption", "")))


def _closed(desk: Desk, group: int, topic: int) -> bool:
    return any(t["message_thread_id"] == topic and t.get("closed")
               for t in desk.emu.topics(group))


def _in_topic(desk: Desk, group: int, topic: int, part: str) -> bool:
    return any(part in _text(m) for m in desk.emu.messages(group, thread_id=topic)
               if m.get("from", {}).get("is_bot"))


async def test_transfer_there_and_back(desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(_departments(sales, tech))
    anna = desk.customer("Anna")
    first = await anna.says("the invoice does not open")
    await _choose(desk, anna, await anna.receives("Hello! Please choose who can help you:"),
                  SALES)
    in_sales = await _topic_in(desk, sales, "the invoice does not open")
    olga = _operator_in(desk, sales, "Olga")
    answer = await olga.says(in_sales, "which browser?")
    copy_of_answer = await anna.receives("which browser?")
    await anna.says("Firefox, and the app crashes too")
    await _topic_in(desk, sales, "Firefox, and the app crashes too")
    before = await db.Conversation.get(customer_id=1)

    await olga.says(in_sales, "/transfer tech looks like an app bug")
    await anna.receives(f"Your question has been passed to {TECH}; they will answer here.")
    await desk.wait(lambda: _closed(desk, sales, in_sales))
    assert _in_topic(desk, sales, in_sales, f"transferred to {TECH} by Olga")
    context = "↪️ Transferred from " + SALES + " by Olga\n📝 looks like an app bug\n\nSo far:\n" \
        "👤 Anna: the invoice does not open\n🧑‍💼 Olga: which browser?\n" \
        "👤 Anna: Firefox, and the app crashes too"
    in_tech = await _topic_in(desk, tech, context)
    assert any(f"Department: {TECH}" in t for t in _bot_texts(desk, tech))  # the card
    after = await db.Conversation.get(customer_id=1)
    # The clock carries over: the customer still waits since their last message.
    assert (after.waiting_since, after.first_response_at, after.opened_at) == (
        before.waiting_since, before.first_response_at, before.opened_at)
    assert (after.department, after.desk_chat, after.topic_id) == ("tech", str(tech), in_tech)

    # Answers come from the new topic only: the old one is closed to operators, and what
    # an admin may still write there is not relayed.
    with pytest.raises(ControlError, match="TOPIC_CLOSED"):
        await olga.says(in_sales, "late answer from sales")
    desk.emu.reopen_topic(sales, in_sales)  # an admin opens it again by hand
    await olga.says(in_sales, "late answer from sales")
    timur = _operator_in(desk, tech, "Timur")
    await timur.says(in_tech, "please update the app")
    await anna.receives("please update the app")
    assert not any(_text(m) == "late answer from sales" for m in anna.inbox())

    # Across the transfer: Olga's earlier answer edited, Anna's earlier message edited, a
    # reply to the earlier answer.
    await olga.edits(answer["message_id"], text="which browser and version?")
    await desk.wait(lambda: any(_text(m) == "which browser and version?"
                                for m in anna.inbox()))
    await anna.edits(first["message_id"], text="the invoice PDF does not open")
    await desk.wait(lambda: _in_topic(desk, tech, in_tech, "the invoice PDF does not open"))
    await anna.says("Firefox 120", reply_to=copy_of_answer["message_id"])
    await desk.wait(lambda: _in_topic(desk, tech, in_tech, "Firefox 120"))

    # And back, with no note.
    await timur.says(in_tech, "/transfer sales")
    await anna.receives(f"Your question has been passed to {SALES}; they will answer here.")
    await desk.wait(lambda: _closed(desk, tech, in_tech))
    came_back = f"↪️ Transferred from {TECH} by Timur"
    await desk.wait(lambda: any(t.startswith(came_back) for t in _bot_texts(desk, sales)))
    back = await _topic_in(desk, sales, next(
        t for t in _bot_texts(desk, sales) if t.startswith(came_back)))
    assert back != in_sales
    await olga.says(back, "the PDF is fixed now")
    await anna.receives("the PDF is fixed now")


async def test_transfer_refusals_are_explained(desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(_departments(sales, tech, ask=False))
    gleb = desk.customer("Gleb")
    await gleb.says("hello")
    topic = await _topic_in(desk, tech, "hello")
    timur = _operator_in(desk, tech, "Timur")
    await timur.says(topic, "/transfer billing")
    await desk.wait(lambda: _in_topic(desk, tech, topic, "/transfer billing: no such "
                                      "department. Departments: sales, tech."))
    await timur.says(topic, "/transfer tech")
    await desk.wait(lambda: _in_topic(desk, tech, topic, "in that department already"))
    assert desk.emu.topics(sales) == []

"""Topics the bot made in departments' groups (SQLite and PostgreSQL). Orphans, as in the operator group
(tests/test_topic_orphans.py): a topic the bot made in tech's group whose createForumTopic
answer was lost is adopted there, or deleted there when the retry made another first. The
same topic id in the operator group is never touched: a topic id is unique only within its
group. A topic an admin closed by hand is reopened in its own group too."""

from __future__ import annotations

from typing import Any

from tests.harness import Desk, StartRelay
from tests.test_departments import TECH, _choose, _departments, _groups


def _live(desk: Desk, group: int) -> list[dict[str, Any]]:
    return [t for t in desk.emu.topics(group) if not t["deleted"]]


def _posts(desk: Desk, group: int, topic: int) -> list[str]:
    return [str(m.get("text", m.get("caption", ""))) for m in desk.emu.messages(group)
            if m.get("message_thread_id") == topic and m.get("from", {}).get("is_bot")
            and "forum_topic_created" not in m]


def _people_topics(desk: Desk) -> set[int]:
    """Topics people made in the operator group, with the ids the bot's topics in tech's
    group get (each group counts its own)."""
    for n in range(8):
        desk.emu.create_topic(desk.group, f"Team {n}")
    return {t["message_thread_id"] for t in _live(desk, desk.group)}


async def _settled(desk: Desk) -> None:
    await desk.wait(lambda: not desk.emu.pending_updates(desk.bot_id))


async def _to_tech(desk: Desk, name: str, text: str) -> Any:
    customer = desk.customer(name)
    await customer.says(text)
    question = await customer.receives("Hello! Please choose who can help you:")
    return customer, question


async def test_a_lost_create_answer_in_a_departments_group_is_adopted_there(
        desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(_departments(sales, tech))
    people = _people_topics(desk)
    anna, question = await _to_tech(desk, "Anna", "my router")
    desk.emu.drop_connection("createForumTopic", after=True, chat_id=tech)
    await _choose(desk, anna, question, TECH)
    await desk.wait(lambda: any("my router" in p for t in _live(desk, tech)
                                for p in _posts(desk, tech, t["message_thread_id"])))
    await _settled(desk)
    await desk.wait(lambda: len(_live(desk, tech)) == 1)
    [topic] = _live(desk, tech)
    posts = _posts(desk, tech, topic["message_thread_id"])
    assert "Anna" in posts[0]  # the card, on top
    assert posts[-1] == "my router"
    assert [t for t in desk.emu.topics(tech) if t["deleted"]] == []  # adopted, not remade
    assert {t["message_thread_id"] for t in _live(desk, desk.group)} == people


async def test_a_retry_before_the_lost_topics_update_deletes_it_in_its_own_group(
        desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(_departments(sales, tech))
    people = _people_topics(desk)
    olga, question = await _to_tech(desk, "Olga", "first")
    await _choose(desk, olga, question, TECH)
    await desk.wait(lambda: len(_live(desk, tech)) == 1)
    bob, question = await _to_tech(desk, "Bob", "hi there")
    # The poller hears of Bob's first topic only after the retry made and used a second.
    desk.emu.inject_delay("getUpdates", 1.0, times=2)
    desk.emu.drop_connection("createForumTopic", after=True, chat_id=tech)
    await _choose(desk, bob, question, TECH)
    await desk.wait(lambda: any(t["deleted"] for t in desk.emu.topics(tech)))
    await _settled(desk)
    live = [t for t in _live(desk, tech) if t["name"].startswith("Bob")]
    [gone] = [t for t in desk.emu.topics(tech) if t["deleted"]]
    assert len(live) == 1 and gone["message_thread_id"] < live[0]["message_thread_id"]
    assert _posts(desk, tech, live[0]["message_thread_id"])[-1] == "hi there"
    assert _posts(desk, tech, gone["message_thread_id"]) == []
    # Nothing was deleted in the operator group, where topics have the same ids.
    assert {t["message_thread_id"] for t in _live(desk, desk.group)} == people


async def test_a_topic_closed_by_hand_in_a_departments_group_is_reopened_there(
        desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(_departments(sales, tech))
    people = _people_topics(desk)
    anna, question = await _to_tech(desk, "Anna", "first")
    await _choose(desk, anna, question, TECH)
    await desk.wait(lambda: len(_live(desk, tech)) == 1)
    [topic] = [t["message_thread_id"] for t in _live(desk, tech)]
    await desk.wait(lambda: "first" in _posts(desk, tech, topic))
    desk.emu.close_topic(tech, topic)  # an admin closed it, not /close
    await anna.says("second")
    await desk.wait(lambda: "second" in _posts(desk, tech, topic))
    assert {t["message_thread_id"] for t in _live(desk, desk.group)} == people

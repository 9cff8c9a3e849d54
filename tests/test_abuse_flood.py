"""Flood combining end to end on Telegram (SQLite and PostgreSQL): one customer sends 100
messages in a second. All are stored; the topic gets the first `max_messages` one by one
and the rest in combined posts (far fewer posts than messages); the customer is told once
to slow down; another customer writing meanwhile is relayed as usual."""

from __future__ import annotations

import asyncio

from storage import models as db
from tests.harness import Desk, StartRelay
from tests.test_csat import general, topic_posts
from tests.vk_harness import StartVkRelay, VkSide

ABUSE = """
abuse: {max_messages: 20, per: 10s, combine_every: 200ms}
"""
SLOW_DOWN = "You are sending messages very fast. We have them all; please wait for our answer."


def _lines(desk: Desk, topic: int) -> list[str]:
    """Every flood message the topic shows: relayed alone, or a line of a combined post."""
    shown = []
    for post in topic_posts(desk, topic):
        if post.startswith("🌊"):
            shown += [line[2:] for line in post.split("\n")[1:]]
        elif post.startswith("flood "):
            shown.append(post)
    return shown


async def test_a_flood_of_100_is_stored_and_combined(desk: Desk,
                                                     start_relay: StartRelay) -> None:
    await start_relay(ABUSE)
    flo, bob = desk.customer("Flo"), desk.customer("Bob")
    await flo.says("flood 000")
    topic = await desk.topic_with("flood 000")
    await asyncio.gather(*(flo.says(f"flood {n:03d}") for n in range(1, 100)),
                         bob.says("a normal question"))
    bob_topic = await desk.topic_with("a normal question")
    assert bob_topic != topic
    await desk.wait(lambda: len(_lines(desk, topic)) >= 100, timeout=20)
    assert sorted(_lines(desk, topic)) == [f"flood {n:03d}" for n in range(100)]
    relayed_alone = [p for p in topic_posts(desk, topic) if p.startswith("flood ")]
    combined = [p for p in topic_posts(desk, topic) if p.startswith("🌊")]
    assert len(relayed_alone) == 20
    assert 1 <= len(combined) <= 10, "far fewer posts than messages"
    assert await db.Message.filter(kind="customer", author_id=str(flo.id)).count() == 100
    await flo.receives(SLOW_DOWN)
    assert [m["text"] for m in flo.inbox()] == [SLOW_DOWN]  # told once
    assert not [m for m in bob.inbox() if m["text"] == SLOW_DOWN]
    await desk.emu.user_send(desk.operator("Olga").user, desk.group, text="/report today")
    await desk.wait(lambda: general(desk, "📊"))
    assert "Flood messages combined: 80" in general(desk, "📊")[0]


async def test_a_fast_typist_is_no_flood(desk: Desk, start_relay: StartRelay) -> None:
    await start_relay(ABUSE)
    anna = desk.customer("Anna")
    for n in range(15):
        await anna.says(f"line {n}")
    topic = await desk.topic_with("line 0")
    await desk.wait(lambda: len([p for p in topic_posts(desk, topic)
                                 if p.startswith("line ")]) == 15)
    assert anna.inbox() == []
    assert await db.AbuseEvent.all().count() == 0


async def test_vk_flood_is_combined(desk: Desk, vk: VkSide, start_vk_relay: StartVkRelay
                                    ) -> None:
    await start_vk_relay(ABUSE)
    ivan = vk.customer("Ivan", "Petrov", lang_id=0)  # Russian
    await ivan.says("flood 000")
    topic = await desk.topic_with("flood 000")
    for n in range(1, 60):
        await ivan.says(f"flood {n:03d}")
    await desk.wait(lambda: len(_lines(desk, topic)) >= 60, timeout=20)
    assert sorted(_lines(desk, topic)) == [f"flood {n:03d}" for n in range(60)]
    assert len([p for p in topic_posts(desk, topic) if p.startswith("flood ")]) == 20
    await ivan.receives("Вы пишете очень быстро. Мы получили все сообщения; пожалуйста, "
                        "дождитесь ответа.")
    assert len(ivan.inbox()) == 1
    assert await db.Message.filter(kind="customer").count() == 60

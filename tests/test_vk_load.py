"""The VK channel under load and faults: bursts, long-poll failures, rate limits, on SQLite
and PostgreSQL. Every check is "nothing lost, nothing twice, in order"; none is timed."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from tests.harness import Desk
from tests.vk_harness import VkCustomer, VkSide


def copies(desk: Desk, prefix: str = "") -> list[dict[str, Any]]:
    return [m for m in desk.messages() if m.get("from", {}).get("is_bot")
            and str(m.get("text", "")).startswith(prefix) and "forum_topic_created" not in m]


def assert_once_in_order(desk: Desk, people: list[VkCustomer], sent: dict[int, list[str]],
                         prefix: str) -> None:
    got = copies(desk, prefix)
    counts = Counter(m["text"] for m in got)
    expected = {t for texts in sent.values() for t in texts}
    assert set(counts) == expected, f"lost: {sorted(expected - set(counts))[:10]}"
    assert all(n == 1 for n in counts.values()), {t: n for t, n in counts.items() if n > 1}
    for person in people:
        mine = [m for m in got if m["text"] in set(sent[person.id])]
        assert [m["text"] for m in mine] == sent[person.id], "order kept"
        assert len({m["message_thread_id"] for m in mine}) == 1, "one topic per customer"


async def test_thirty_vk_customers_five_messages_each_at_once(desk: Desk, vk: VkSide,
                                                              vk_relay) -> None:
    people = [vk.customer(f"Burst{i}", "Test") for i in range(30)]
    sent: dict[int, list[str]] = {p.id: [f"b{i:02d}-m{j}" for j in range(5)]
                                  for i, p in enumerate(people)}

    async def write(person: VkCustomer) -> None:
        for text in sent[person.id]:
            await person.says(text)

    await asyncio.gather(*(write(p) for p in people))
    await desk.wait(lambda: len(copies(desk, "b")) >= 150, timeout=60)
    await asyncio.sleep(0.2)  # anything doubled would show up now
    assert_once_in_order(desk, people, sent, "b")
    topics = [t for t in desk.topics() if "· VK ·" in t["name"]]
    assert len(topics) == 30


async def test_long_poll_faults_lose_nothing_and_double_nothing(desk: Desk, vk: VkSide,
                                                                vk_relay) -> None:
    people = [vk.customer(f"Fault{i}", "Test") for i in range(4)]
    sent: dict[int, list[str]] = {p.id: [] for p in people}
    emu = vk.emu

    async def round_(tag: str) -> None:
        for i, person in enumerate(people):
            sent[person.id].append(f"f{tag}-{i}")
        await asyncio.gather(*(p.says(f"f{tag}-{i}") for i, p in enumerate(people)))

    async def delivered() -> None:
        want = sum(len(v) for v in sent.values())
        await desk.wait(lambda: len(copies(desk, "f")) >= want, timeout=30)

    await round_("start")
    await delivered()
    faults: list[tuple[str, int | None]] = [
        ("failed", 1), ("failed", 2), ("failed", 3), ("drop", None), ("status", 502),
    ]
    for kind, code in faults:
        # the a_check in flight answers the first round; the next one is the faulty one,
        # answered only after the second round has arrived
        emu.longpoll_fault(kind, code, after=0.3)
        await round_(f"{kind}{code}a")
        await round_(f"{kind}{code}b")
        await delivered()
    emu.expire_key(vk.club)
    await round_("expired")
    await delivered()
    # VK loses the history while events wait: they come back from the mailbox
    emu.longpoll_fault("failed", 2, after=0.5)
    await round_("loss-a")
    await round_("loss-b")
    emu.lose_history(vk.club)
    await round_("loss-c")
    await delivered()
    await asyncio.sleep(0.2)
    assert_once_in_order(desk, people, sent, "f")
    parts = vk_relay.services.vk
    assert parts.longpoll.history_gaps >= 1 and parts.handler.recovered >= 1


async def test_rate_limit_on_every_reply_delivered_never_over_twenty_per_second(
    desk: Desk, vk: VkSide, start_vk_relay
) -> None:
    app = await start_vk_relay()
    people = [vk.customer(f"Rate{i}", "Test") for i in range(20)]
    await asyncio.gather(*(p.says(f"r{i}") for i, p in enumerate(people)))
    topics = [await desk.topic_with(f"r{i}") for i in range(20)]
    olga = desk.operator()
    vk.emu.clear_requests()
    for round_ in range(3):
        await asyncio.gather(*(olga.says(t, f"answer {round_} to {i}")
                               for i, t in enumerate(topics)))
    for i, person in enumerate(people):
        for round_ in range(3):
            await person.receives(f"answer {round_} to {i}", timeout=30)
    assert vk.emu.violations == []
    times = sorted(r.time for r in vk.emu.requests if r.method != "longpoll")
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 20
    for person in people:
        assert len(person.inbox()) == 3
    assert app.services is not None


GROUP_LIMITS = ("{private_chat: {count: 3, per: 1s}, group: {count: 20, per: 2s}, "
                "bot: {count: 30, per: 1s}}")


async def test_vk_files_are_counted_against_the_group_limit(desk: Desk, vk: VkSide,
                                                            start_vk_relay) -> None:
    """A VK message with text and two photos is three sends into the group: the modelled
    limit counts all three, so Telegram never answers 429 (which would re-send the text)."""
    desk.emu.set_rate_limits(enabled=True, private=(3, 1.0), group=(20, 2.0), bot=(30, 1.0))
    await start_vk_relay(limits=GROUP_LIMITS)
    people = [vk.customer(f"Files{i}", "Test") for i in range(6)]
    await asyncio.gather(*(p.says(f"g{i} two photos", ["photo", "photo"])
                           for i, p in enumerate(people)))
    await desk.wait(lambda: sum("photo" in m for m in desk.messages()) >= 12, timeout=30)
    assert desk.emu.violations == []
    assert not [r for r in desk.emu.requests if r.error_code == 429]
    counts = Counter(m.get("text") for m in copies(desk, "g"))
    assert set(counts.values()) == {1} and len(counts) == 6


async def test_text_and_one_photo_make_one_captioned_post_edited_in_place(
    desk: Desk, vk: VkSide, vk_relay
) -> None:
    anna = vk.customer()
    sent = await anna.says("broken, see photo", ["photo"])
    await desk.wait(lambda: any(m.get("caption") == "broken, see photo"
                                for m in desk.messages()))
    post = next(m for m in desk.messages() if m.get("caption") == "broken, see photo")
    assert "photo" in post
    assert not any(m.get("text") == "broken, see photo" for m in desk.messages())
    await anna.edits(sent["id"], "broken since Monday, see photo")
    await desk.wait(lambda: any(m.get("caption") == "broken since Monday, see photo"
                                for m in desk.messages()))

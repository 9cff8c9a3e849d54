"""/ban and /unban end to end (SQLite and PostgreSQL): an admin bans a Telegram customer
(their messages are stored, not relayed, nothing is sent to them: no acknowledgement, no
survey), the report counts it, /unban lifts it; a non-admin is told they may not; a timed
ban ends by itself; a ban covers the customer's linked VK identity."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bots.app import App
from storage import models as db
from tests.harness import Desk, Operator, StartRelay, relay_config
from tests.test_csat import MovableClock, general, is_closed, topic_posts
from tests.vk_harness import StartVkRelay, VkSide

SERVICE = """
service:
  targets: {first_response: 1h, next_response: 1h, business_hours: false}
  title_debounce: "off"
  daily_report: "off"
"""
ACK = "Thanks for your message! An operator will reply within 1 hour."


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll the database until `check` holds (intake commits before it acknowledges)."""
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within 10 s: {what}")


async def suppressed(count: int) -> bool:
    return await db.AbuseEvent.filter(kind="suppressed").count() == count


def group_admin(desk: Desk, name: str) -> Operator:
    """An operator who may write in a closed topic (to /unban there)."""
    operator = desk.operator(name)
    desk.emu.add_member(desk.group, operator.user, admin=True, can_manage_topics=True)
    return operator


async def test_an_admin_bans_and_unbans(desk: Desk, start_relay: StartRelay) -> None:
    olga, anna = group_admin(desk, "Olga"), desk.customer("Anna")
    await start_relay(SERVICE, admins=[olga.user.id])
    await anna.says("cheap followers here")
    topic = await desk.topic_with("cheap followers here")
    await anna.receives(ACK)
    await olga.says(topic, "/ban spam links")
    banned = "🚫 Banned by Olga until /unban — spam links. Their messages are kept but not " \
             "relayed, and nothing is sent to them; /unban lifts it."
    await desk.wait(lambda: banned in topic_posts(desk, topic))
    await desk.wait(lambda: is_closed(desk, topic))
    conversation = await db.Conversation.get(topic_id=topic)
    assert (conversation.status, conversation.close_reason) == ("closed", "banned")
    await anna.says("hello??")
    await anna.says("answer me")
    await until(lambda: suppressed(2), "two messages suppressed")
    stored = [m.content["text"] for m in await db.Message.filter(
        conversation_id=conversation.id, kind="customer").order_by("id")]
    assert stored == ["cheap followers here", "hello??", "answer me"]
    assert await db.Conversation.all().count() == 1
    assert "hello??" not in topic_posts(desk, topic) and "answer me" not in topic_posts(
        desk, topic)
    assert [m["text"] for m in anna.inbox()] == [ACK]  # no survey, no second ack
    await desk.emu.user_send(olga.user, desk.group, text="/report today")
    await desk.wait(lambda: general(desk, "📊"))
    assert "🛡 Abuse protection\nBanned customers: 1\nSuppressed messages: 2" in \
        general(desk, "📊")[0]
    await olga.says(topic, "/unban")
    await desk.wait(lambda: "✅ Ban lifted by Olga: the customer's next message starts a "
                    "conversation." in topic_posts(desk, topic))
    await anna.says("sorry, a real question")
    await desk.wait(lambda: "sorry, a real question" in topic_posts(desk, topic))
    assert await db.Conversation.filter(status="open").count() == 1


async def test_a_non_admin_may_not_ban(desk: Desk, start_relay: StartRelay) -> None:
    olga, petr = desk.operator("Olga"), desk.operator("Petr")
    await start_relay(admins=[olga.user.id])
    anna = desk.customer("Anna")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    await petr.says(topic, "/ban 1d rude")
    await desk.wait(lambda: "⛔ Petr, only admins (operators.admins) may /ban." in
                    topic_posts(desk, topic))
    await petr.says(topic, "/unban")
    await desk.wait(lambda: "⛔ Petr, only admins (operators.admins) may /unban." in
                    topic_posts(desk, topic))
    assert await db.CustomerBan.all().count() == 0
    await anna.says("still here")
    await desk.wait(lambda: "still here" in topic_posts(desk, topic))


async def test_a_timed_ban_ends_by_itself(db_url: str, desk: Desk) -> None:
    clock, olga = MovableClock(), desk.operator("Olga")
    app = App(relay_config(db_url, desk.emu.base_url, desk.group, [olga.user.id]), clock)
    await app.start()
    try:
        anna = desk.customer("Anna")
        await anna.says("first")
        topic = await desk.topic_with("first")
        await olga.says(topic, "/ban 2h")
        await desk.wait(lambda: any(t.startswith("🚫 Banned by Olga until ") and
                                    "— " not in t for t in topic_posts(desk, topic)))
        ban = await db.CustomerBan.get()
        assert ban.until_us is not None and ban.until_us - ban.at_us == 2 * 3600 * 10**6
        await anna.says("during the ban")
        await until(lambda: suppressed(1), "the message during the ban suppressed")
        clock.ahead = timedelta(hours=2, seconds=1)
        await anna.says("after the ban")
        await desk.wait(lambda: "after the ban" in topic_posts(desk, topic))
        assert "during the ban" not in topic_posts(desk, topic)
        assert await db.AbuseEvent.filter(kind="suppressed").count() == 1
    finally:
        await app.stop()


async def test_a_ban_covers_linked_identities(desk: Desk, vk: VkSide,
                                              start_vk_relay: StartVkRelay) -> None:
    olga = desk.operator("Olga")
    await start_vk_relay(admins=[olga.user.id])
    anna_tg = desk.customer("Anna")
    anna_vk = vk.customer("Anna", "Smirnova", lang_id=3)
    await anna_tg.says("hi from telegram")
    here = await desk.topic_with("hi from telegram")
    await anna_vk.says("hi from vk")
    there = await desk.topic_with("hi from vk")
    number = next(t for t in desk.topics() if t["message_thread_id"] == there)[
        "name"].rsplit("#", 1)[1]
    await olga.says(here, f"/link {number}")
    await desk.wait(lambda: any(t.startswith("🔗") for t in topic_posts(desk, there)))
    await olga.says(here, "/ban 7d abuse")
    await desk.wait(lambda: any(t.startswith("🚫") for t in topic_posts(desk, here)))
    card = desk.bot_posts(here)[0]  # the card lists both identities, and now the ban
    await desk.wait(lambda: "🚫 Banned until " in str(desk.emu.message(
        desk.group, card["message_id"])["text"]))
    assert "Linked: " in str(desk.emu.message(desk.group, card["message_id"])["text"])
    await anna_vk.says("from vk while banned")
    await anna_tg.says("from telegram while banned")
    await until(lambda: suppressed(2), "both identities' messages suppressed")
    assert not any("while banned" in t for t in topic_posts(desk, here) + topic_posts(
        desk, there))
    assert [m for m in anna_vk.inbox() if "while banned" in m["text"]] == []


async def test_a_link_made_after_the_ban_carries_it(desk: Desk, vk: VkSide,
                                                    start_vk_relay: StartVkRelay) -> None:
    olga = group_admin(desk, "Olga")
    await start_vk_relay(admins=[olga.user.id])
    anna_tg, anna_vk = desk.customer("Anna"), vk.customer("Anna", "Smirnova", lang_id=3)
    await anna_tg.says("spam from telegram")
    banned_topic = await desk.topic_with("spam from telegram")
    await olga.says(banned_topic, "/ban")
    await desk.wait(lambda: any(t.startswith("🚫 Banned") for t in topic_posts(
        desk, banned_topic)))
    await anna_vk.says("hello from vk")
    here = await desk.topic_with("hello from vk")
    number = next(t for t in desk.topics() if t["message_thread_id"] == banned_topic)[
        "name"].rsplit("#", 1)[1]
    await olga.says(here, f"/link {number}")
    await desk.wait(lambda: any(t.startswith("🚫 This customer is banned (by Olga)")
                                for t in topic_posts(desk, here)))
    card = desk.bot_posts(here)[0]  # the ban came with the link: the card shows it
    await desk.wait(lambda: "🚫 Banned until /unban by Olga" in str(desk.emu.message(
        desk.group, card["message_id"])["text"]))
    # The conversation that goes on ends with /close (no survey); the next is kept off.
    await olga.says(here, "answered")
    await anna_vk.receives("answered")
    await olga.says(here, "/close")
    await desk.wait(lambda: any(t.startswith("✅") for t in topic_posts(desk, here)))
    await anna_vk.says("and again from vk")
    await anna_tg.says("and again from telegram")
    await until(lambda: suppressed(2), "both identities' messages suppressed")
    assert not [m for m in anna_vk.inbox() if m["text"].startswith("How did we do")]
    assert await db.CsatSurvey.all().count() == 0

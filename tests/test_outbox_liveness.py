"""Outbox liveness, end to end: what customers really send, then nothing else.

Every test ends with the customer falling silent: no later message may be what wakes a
sleeping sender. The Bot API answers with a little latency (as the real one does), so rows
are committed while earlier ones of their lane are still on the wire.
"""

from __future__ import annotations

from typing import Any

from tests.harness import Desk, StartRelay

LATENCY = 0.05  # seconds per Bot API call into the operator group
WAIT = 6.0


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text", m.get("caption", "")) or "")


def _slow_group(desk: Desk) -> None:
    desk.emu.inject_delay("*", LATENCY, None, chat_id=desk.group)


async def _topic_of(desk: Desk, customer: Any, text: str = "hello") -> int:
    await customer.says(text)
    return await desk.topic_with(text)


def _photos(desk: Desk, topic: int) -> list[dict[str, Any]]:
    return [p for p in desk.bot_posts(topic) if "photo" in p]


async def test_text_then_album_in_the_same_second(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    topic = await _topic_of(desk, anna)
    _slow_group(desk)
    await anna.says("here are the photos")
    await desk.emu.user_send_album(anna.user, anna.id, ["photo", "photo"], caption="pics")
    await desk.wait(lambda: len(_photos(desk, topic)) == 2, WAIT)
    posts = [_text(p) for p in desk.bot_posts(topic)]
    assert posts.index("here are the photos") < posts.index("pics")
    assert len({p.get("media_group_id") for p in _photos(desk, topic)}) == 1


async def test_every_kind_in_a_row_then_silence(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    topic = await _topic_of(desk, anna)
    _slow_group(desk)
    for kind in ("photo", "document", "sticker", "voice", "location", "contact"):
        await anna.sends(kind)
    await desk.emu.user_send_album(anna.user, anna.id, ["photo", "photo", "photo"],
                                   caption="album")
    await anna.says(("long " * 800).strip())  # 4000 characters, near Telegram's limit
    await desk.wait(lambda: any(_text(p).endswith("long") for p in desk.bot_posts(topic)),
                    WAIT)
    posts = desk.bot_posts(topic)
    assert len(_photos(desk, topic)) == 4
    assert [_text(p) for p in posts].index("album") < len(posts) - 1  # the long text last


async def test_album_while_its_lane_waits_for_the_group_budget(
    desk: Desk, start_relay: StartRelay
) -> None:
    # Three posts per 250 ms into the group: the topic, its card and the first copy spend
    # it, so the next text waits for the window while the album is committed behind it,
    # and is sent before the album is due.
    await start_relay(limits="{private_chat: {count: 10, per: 100ms}, "
                             "group: {count: 3, per: 250ms}, bot: {count: 30, per: 50ms}}")
    anna = desk.customer("Anna")
    topic = await _topic_of(desk, anna)
    await anna.says("photos of the damage:")
    await desk.emu.user_send_album(anna.user, anna.id, ["photo", "photo"], caption="damage")
    await desk.wait(lambda: len(_photos(desk, topic)) == 2, WAIT)
    assert not desk.emu.violations


async def test_an_edit_of_an_album_still_waiting(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    topic = await _topic_of(desk, anna)
    _slow_group(desk)
    await anna.says("one more thing")
    album = await desk.emu.user_send_album(anna.user, anna.id, ["photo", "photo"],
                                           caption="frist")
    await anna.edits(album[0]["message_id"], caption="first")  # still queued
    await desk.wait(lambda: any(_text(p) == "first" for p in _photos(desk, topic)), WAIT)
    assert len(_photos(desk, topic)) == 2


async def test_a_row_backing_off_holds_its_lane_then_everything_arrives_in_order(
    desk: Desk, relay
) -> None:
    anna = desk.customer("Anna")
    topic = await _topic_of(desk, anna)
    desk.emu.inject_fault("copyMessage", error_code=502, description="Bad Gateway", times=1,
                          chat_id=desk.group)
    for text in ("first", "second", "third"):
        await anna.says(text)
    await desk.wait(lambda: any(_text(p) == "third" for p in desk.bot_posts(topic)), WAIT)
    posts = [_text(p) for p in desk.bot_posts(topic)]
    assert posts[-3:] == ["first", "second", "third"]


async def test_an_operator_answer_behind_a_429_pause_arrives(desk: Desk, relay) -> None:
    anna = desk.customer("Anna")
    topic = await _topic_of(desk, anna)
    olga = desk.operator("Olga")
    desk.emu.inject_fault("sendMessage", error_code=429, description="Too Many Requests: "
                          "retry after 1", retry_after=1, times=1, chat_id=anna.id)
    desk.emu.inject_fault("copyMessage", error_code=429, description="Too Many Requests: "
                          "retry after 1", retry_after=1, times=1, chat_id=anna.id)
    await olga.says(topic, "answer one")
    await olga.sends(topic, "photo", caption="answer two")
    await anna.receives("answer two", WAIT)
    texts = [_text(m) for m in anna.inbox()]
    assert texts.index("answer one") < texts.index("answer two")

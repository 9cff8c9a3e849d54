"""relaydesk against Telegram's documented behaviour, not the emulator's convenience: error
descriptions as Telegram words them, copyMessages skipping messages, lengths in UTF-16 code
units, the General topic's thread ids. Real aiogram against the emulator on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError

from adapters.telegram import errors
from adapters.telegram.desk import TelegramDesk
from adapters.telegram.sender import split_text
from adapters.telegram.startup import check_desk
from core.errors import (
    NotModified,
    PermanentError,
    RecipientUnreachable,
    RetryAfter,
    TopicClosed,
    TopicMissing,
    TransientError,
)
from core.ports import RateKey
from sandbox.telegram.entities import utf16_len
from tests.harness import TOKEN, Desk
from tests.sandbox.conftest import make_bot


@pytest.fixture
async def bot(desk: Desk) -> AsyncIterator[Bot]:
    client = make_bot(desk.emu, TOKEN)
    try:
        yield client
    finally:
        await client.session.close()


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text", m.get("caption", "")))


# Descriptions as Telegram (the Bot API server, or TDLib/MTProto behind it) words them.
@pytest.mark.parametrize(("code", "description", "outcome"), [
    (400, "Bad Request: message thread not found", TopicMissing),
    (400, "Bad Request: Message thread not found", TopicMissing),
    (400, "Bad Request: TOPIC_DELETED", TopicMissing),
    (400, "Bad Request: TOPIC_ID_INVALID", TopicMissing),
    (400, "Bad Request: TOPIC_CLOSED", TopicClosed),
    (400, "Bad Request: message is not modified: specified new message content and reply "
          "markup are exactly the same as a current content and reply markup of the message",
     NotModified),
    (400, "Bad Request: TOPIC_NOT_MODIFIED", NotModified),
    (400, "Bad Request: message to be replied not found", PermanentError),
    (400, "Bad Request: can't parse entities: unsupported start tag \"3\" at byte offset 1",
     PermanentError),
    (403, "Forbidden: bot was blocked by the user", RecipientUnreachable),
    (403, "Forbidden: user is deactivated", RecipientUnreachable),
    (403, "Forbidden: bot can't initiate conversation with a user", RecipientUnreachable),
    (500, "Internal Server Error", TransientError),
    (502, "Bad Gateway", TransientError),
])
async def test_telegram_error_descriptions_become_core_outcomes(
    desk: Desk, bot: Bot, code: int, description: str, outcome: type[Exception]
) -> None:
    desk.emu.inject_fault("sendMessage", error_code=code, description=description)
    with pytest.raises(outcome):
        await errors.call(desk.group, lambda: bot.send_message(desk.group, "x"))


async def test_retry_after_comes_from_parameters_and_pauses_that_chat(
    desk: Desk, bot: Bot
) -> None:
    # The wording of the description is not relied on: parameters.retry_after is.
    desk.emu.inject_fault("sendMessage", error_code=429,
                          description="Too Many Requests: retry after 12", retry_after=12)
    with pytest.raises(RetryAfter) as caught:
        await errors.call(desk.group, lambda: bot.send_message(desk.group, "x"))
    assert caught.value.seconds == 12 and caught.value.bucket == f"tg:chat:{desk.group}"


async def test_topic_calls_on_a_deleted_topic(desk: Desk, bot: Bot) -> None:
    """Telegram answers TOPIC_ID_INVALID when a deleted topic is closed, reopened or renamed:
    closing it is done, and renaming or reopening it says the topic is missing (the title
    keeper then settles instead of retrying the same rename forever)."""
    limit = RateKey("tg:test", 100, 1.0)
    topics = TelegramDesk(bot, desk.group, limit, limit)
    topic = await topics.create_topic("Anna · TG · #1")
    desk.emu.delete_topic(desk.group, topic)
    await topics.close_topic(topic)
    with pytest.raises(TopicMissing):
        await topics.rename_topic(topic, "🟢 Anna · TG · #1")
    with pytest.raises(TopicMissing):
        await topics.reopen_topic(topic)


def test_split_text_counts_utf16_code_units() -> None:
    text = "🎉" * 5000 + " " + "я" * 5000
    parts = split_text(text)
    assert all(0 < utf16_len(p) <= 3900 for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")
    assert all(not p.startswith("\udc89") for p in parts)  # no surrogate pair is cut


async def test_premium_emoji_caption_is_cut_in_utf16_units(desk: Desk, relay) -> None:
    # 600 emoji are 600 code points but 1200 UTF-16 units: over the bot's caption limit
    # under the conservative reading, so a copy that replies carries it cut, and the rest
    # follows as its continuation.
    vip = desk.customer("Vip", premium=True)
    hello = await vip.says("hello")
    topic = await desk.topic_with("hello")
    caption = "🎉" * 600
    await vip.sends("photo", caption=caption, reply_to=hello["message_id"])
    await desk.wait(lambda: any(_text(m).startswith("…") for m in desk.bot_posts(topic)))
    photo = next(m for m in desk.bot_posts(topic) if "photo" in m)
    rest = next(m for m in desk.bot_posts(topic) if _text(m).startswith("…"))
    assert utf16_len(photo["caption"]) <= 1024 and photo["caption"].endswith("…")
    assert photo["caption"][:-1] + rest["text"][1:] == caption


async def test_copy_messages_skipping_a_deleted_message_never_misroutes_edits(
    desk: Desk, relay
) -> None:
    """copyMessages answers only the copies it made, without saying which sources they
    came from. The customer deletes the first photo of an album before it is relayed: the
    other two are copied, and an edit of the second photo must not land on the copy of
    the third (which a by-position mapping would do)."""
    anna = desk.customer("Anna")
    album = await desk.emu.user_send_album(anna.user, anna.id, ["photo", "photo", "photo"],
                                           caption="three photos")
    await desk.emu.user_delete(anna.user, anna.id, album[0]["message_id"])
    await desk.wait(lambda: sum("photo" in m for m in desk.messages()
                                if m.get("from", {}).get("is_bot")) == 2)
    await anna.edits(album[1]["message_id"], caption="the second photo")
    await anna.says("that's all")
    topic = await desk.topic_with("that's all")
    photos = [m for m in desk.bot_posts(topic) if "photo" in m]
    assert len(photos) == 2
    assert not any(_text(m) == "the second photo" for m in desk.bot_posts(topic))
    # nothing was dead-lettered: the album counts as delivered
    assert not any("⚠️" in _text(m) for m in desk.messages())


async def test_replies_in_general_are_never_relayed(desk: Desk, relay) -> None:
    """A reply in the General topic carries message_thread_id (the replied message's id)
    but no is_topic_message: it is no topic, so nothing goes to a customer, and /report
    answered there is posted in General without a thread id (which Telegram refuses)."""
    anna = desk.customer("Anna")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    olga = desk.operator("Olga")
    chat = await desk.emu.user_send(olga.user, desk.group, "team: lunch at 1?")
    assert "message_thread_id" not in chat
    reply = await desk.emu.user_send(olga.user, desk.group, "yes", reply_to=chat["message_id"])
    assert reply["message_thread_id"] == chat["message_id"] and "is_topic_message" not in reply
    await desk.emu.user_send(olga.user, desk.group, "/report", reply_to=reply["message_id"])
    await desk.wait(lambda: any(m.get("from", {}).get("is_bot") and "message_thread_id" not in m
                                for m in desk.messages()))
    await olga.says(topic, "Hi Anna")
    await anna.receives("Hi Anna")
    assert [_text(m) for m in anna.inbox()
            if _text(m) in ("yes", "/report", "team: lunch at 1?")] == []
    assert not desk.emu.calls("sendMessage", ok=False)


@pytest.mark.parametrize("admin_bots_post_in_closed_topics", [False, True])
async def test_topics_are_reopened_explicitly(
    desk: Desk, relay, admin_bots_post_in_closed_topics: bool
) -> None:
    """Whether Telegram refuses an admin bot's post into a closed topic (TOPIC_CLOSED) is
    undocumented. Either way, a new conversation in the customer's topic, or /reopen,
    reopens the topic itself, so operators who are not admins can answer there."""
    desk.emu.options.closed_topic_admin_bypass = admin_bots_post_in_closed_topics
    anna = desk.customer("Anna")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    olga = desk.operator("Olga")

    def closed() -> bool:
        return bool(next(t for t in desk.topics() if t["message_thread_id"] == topic)
                    .get("closed"))

    await olga.says(topic, "/close")
    await desk.wait(closed)
    await anna.says("one more question")
    assert await desk.topic_with("one more question") == topic
    await desk.wait(lambda: not closed())
    await olga.says(topic, "Sure, ask")  # a plain member: refused if the topic were closed
    await anna.receives("Sure, ask")

    await olga.says(topic, "/close")
    await desk.wait(closed)
    desk.emu.add_member(desk.group, olga.user, admin=True, can_manage_topics=True)
    await olga.says(topic, "/reopen")
    await desk.wait(lambda: not closed())


async def test_polling_start_removes_a_webhook_left_behind(desk: Desk, bot: Bot) -> None:
    """Telegram answers getUpdates with 409 while a webhook is set: relaydesk would run
    deaf. In polling mode the start removes it (updates waiting there are kept); in webhook
    mode it is left alone."""
    with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
        await bot.set_webhook("http://example.com/hook")
    await bot.set_webhook("https://hooks.example.com/secret-path")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates(timeout=0)
    assert await check_desk(bot, desk.group, polling=False) == "relaydesk_bot"
    assert (await bot.get_webhook_info()).url == "https://hooks.example.com/secret-path"
    assert await check_desk(bot, desk.group) == "relaydesk_bot"
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates(timeout=0) == []


async def test_a_moving_live_location_is_not_an_edit_to_relay(desk: Desk, relay) -> None:
    """Telegram sends edited_message when a live location moves (and for changes to fields
    a bot doesn't use). Such a message has no caption to edit: no editMessageCaption, no
    failed delivery, no ⚠️ notice for operators every few seconds."""
    anna = desk.customer("Anna")
    await anna.says("I am here")
    topic = await desk.topic_with("I am here")
    spot = await anna.sends("location", latitude=55.75, longitude=37.61, live_period=900)
    for step in range(3):
        await desk.emu.user_move_live_location(anna.user, anna.id, spot["message_id"],
                                               55.75 + step / 1000, 37.61)
    await anna.says("see you")
    await desk.topic_with("see you")
    assert sum("location" in m for m in desk.bot_posts(topic)) == 1
    assert not desk.emu.calls("editMessageCaption")
    assert not any("⚠️" in _text(m) for m in desk.messages())


async def test_topic_titles_fit_128_utf16_units(desk: Desk, relay) -> None:
    """A name of 128 emoji fits relaydesk's 128-character title in code points but is
    twice that in UTF-16 units: the topic is still made, the channel and number kept."""
    emoji = desk.customer("🎉" * 64, last_name="🎉" * 64)
    await emoji.says("party")
    topic = await desk.topic_with("party")
    [info] = [t for t in desk.topics() if t["message_thread_id"] == topic]
    assert utf16_len(info["name"]) <= 128 and info["name"].startswith("🎉")
    assert re.search(r"🎉… · TG · #\d+$", info["name"])


async def test_a_late_button_answer_does_not_repeat_the_action(desk: Desk, relay) -> None:
    """Telegram refuses to answer a callback query that is too old (a press handled after a
    restart). The press is committed by then: it must not be handled again."""
    anna = desk.customer("Anna")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    card = desk.bot_posts(topic)[0]
    olga = desk.operator("Olga")
    desk.emu.inject_fault("answerCallbackQuery", error_code=400, description=(
        "Bad Request: query is too old and response timeout expired or query ID is invalid"))
    await desk.emu.user_press_button(olga.user, desk.group, card["message_id"], "rd:take")
    await desk.wait(lambda: any(_text(m).startswith("🙋 Olga took")
                                for m in desk.bot_posts(topic)))
    await anna.says("still there?")
    await desk.topic_with("still there?")
    assert sum(_text(m).startswith("🙋 Olga took") for m in desk.bot_posts(topic)) == 1


async def test_a_customers_service_message_opens_no_conversation(desk: Desk, relay) -> None:
    """write_access_allowed (the customer let the bot write from a Web App) is a service
    message: no topic, no placeholder; the first real message is the first post."""
    anna = desk.customer("Anna")
    await desk.emu.user_allows_write_access(anna.user)
    await anna.says("hi, a question")
    topic = await desk.topic_with("hi, a question")
    posts = desk.bot_posts(topic)
    assert len(desk.topics()) == 1 and len(posts) == 2  # the card, then the question
    assert not any("write_access_allowed" in _text(m) for m in desk.messages())


async def test_a_post_into_a_vanished_topic_never_blocks_general(desk: Desk, relay) -> None:
    """A /report asked for in a topic is posted there; if Telegram answers "message thread
    not found" (the topic was deleted meanwhile), the post belongs to no conversation and
    has no topic to recreate: it is dead-lettered, and later General posts still flow."""
    anna = desk.customer("Anna")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    olga = desk.operator("Olga")
    await olga.says(topic, "/report")
    desk.emu.delete_topic(desk.group, topic)  # before relaydesk has even seen the command
    await desk.wait(lambda: desk.emu.calls("sendMessage", ok=False))
    await desk.emu.user_send(olga.user, desk.group, "/report week")
    await desk.wait(lambda: any(m.get("from", {}).get("is_bot") and "message_thread_id" not in m
                                and "week" in _text(m).lower() for m in desk.messages()))


async def test_a_deep_link_start_is_a_greeting_not_a_question(desk: Desk, relay) -> None:
    """t.me/bot?start=ref reaches the bot as "/start ref" (Bot API, deep linking): the
    customer is greeted and no topic is made; "/start" followed by words is a question."""
    greeting = "Hello! Write your question here and a support agent will answer you."
    anna = desk.customer("Anna")
    await anna.says("/start promo_2024-11")
    await anna.receives(greeting)
    bob = desk.customer("Bob")
    await bob.says("/start I need help with my order")
    topic = await desk.topic_with("/start I need help with my order")
    await anna.says("now a real question")
    assert await desk.topic_with("now a real question") != topic
    assert len(desk.topics()) == 2
    assert not any("promo_2024" in _text(m) for m in desk.messages())


async def test_get_updates_flood_control_is_waited_out_not_retried(desk: Desk, relay) -> None:
    """A 429 on getUpdates is honoured like any other: the next getUpdates comes after
    `retry_after`, not after the poller's own (shorter) back-off."""
    desk.emu.inject_fault("getUpdates", error_code=429,
                          description="Too Many Requests: retry after 2", retry_after=2)
    anna = desk.customer("Anna")
    await anna.says("are you there?")
    await desk.topic_with("are you there?")
    polls = desk.emu.calls("getUpdates")
    [refused] = [i for i, r in enumerate(polls) if r.error_code == 429]
    assert polls[refused + 1].time - polls[refused].time >= 2.0


def test_no_filter_or_handler_runs_in_a_thread() -> None:
    """aiogram 3 runs a plain function (magic filters `F.…` included) in a worker thread:
    a thread hop for every update on every router it passes. Ours are all coroutines."""
    from aiogram import Dispatcher, Router

    from adapters.telegram.customer import customer_router
    from adapters.telegram.desk_updates import desk_router

    dp = Dispatcher()
    dp.include_router(desk_router(-1001))
    dp.include_router(customer_router())
    threaded = []

    def walk(router: Router) -> None:
        for name, observer in router.observers.items():
            for f in observer._handler.filters or []:
                if not f.awaitable:
                    threaded.append(f"{router.name}.{name}: {f.callback}")
            for handler in observer.handlers:
                for c in [handler, *(handler.filters or [])]:
                    if not c.awaitable:
                        threaded.append(f"{router.name}.{name}: {c.callback}")
        for sub in router.sub_routers:
            walk(sub)

    walk(dp)
    assert threaded == []

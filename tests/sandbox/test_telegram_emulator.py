"""The Telegram emulator, driven by the real aiogram client (and raw HTTP where the wire
format itself is the point)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
    MessageEntity,
    ReplyParameters,
)

from sandbox.telegram import BotRecord, ControlError, TelegramEmulator, UserRecord
from tests.sandbox.conftest import TOKEN, make_bot

# ---- helpers ------------------------------------------------------------------------------


async def raw_post(emu: TelegramEmulator, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(emu.base_url + path, **kwargs) as resp,
    ):
        return resp.status, await resp.json()


async def raw_get(emu: TelegramEmulator, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(emu.base_url + path) as resp:
        return resp.status, await resp.json()


async def drain(bot: Bot) -> None:
    """Confirm every pending update, so the next getUpdates shows only what follows."""
    updates = await bot.get_updates(timeout=0)
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)


async def started(emu: TelegramEmulator, user: UserRecord, bot: Bot) -> None:
    """The user has /start-ed the bot (so it may write to them); the update is consumed."""
    await emu.user_send(user, user.id, "/start")
    await drain(bot)


async def new_topic(bot: Bot, group: int, name: str = "Anna") -> int:
    return (await bot.create_forum_topic(group, name)).message_thread_id


# ---- the wire: routes, bodies, answers ----------------------------------------------------


async def test_tokens_methods_and_answer_shapes(emu: TelegramEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "relay_bot")

    status, body = await raw_post(emu, f"/bot{TOKEN}/GETME")  # names are case-insensitive
    assert status == 200 and body["result"]["id"] == 123456
    status, body = await raw_post(emu, f"/bot{TOKEN}/noSuchMethod")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = await raw_post(emu, f"/bot{TOKEN}/sendMessage", json={"chat_id": 1})
    assert status == 400 and body["description"].startswith("Bad Request: ")

    stranger = make_bot(emu, "999:wrong")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()


async def test_json_form_and_multipart_bodies(
    emu: TelegramEmulator, group: int, bot_record: BotRecord
) -> None:
    keyboard = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    status, body = await raw_post(
        emu, f"/bot{TOKEN}/sendMessage", json={"chat_id": group, "text": "as json"}
    )
    assert status == 200 and body["result"]["text"] == "as json"
    # forms carry ints as strings and objects as JSON text, like aiogram sends them
    status, body = await raw_post(
        emu,
        f"/bot{TOKEN}/sendMessage",
        data={"chat_id": str(group), "text": "[1, 2]", "reply_markup": json.dumps(keyboard)},
    )
    assert status == 200
    assert body["result"]["text"] == "[1, 2]"  # free text is never JSON-decoded
    assert body["result"]["reply_markup"] == keyboard
    form = aiohttp.FormData()
    form.add_field("chat_id", str(group))
    form.add_field("photo", b"\x89PNG raw", filename="shot.png", content_type="image/png")
    status, body = await raw_post(emu, f"/bot{TOKEN}/sendPhoto", data=form)
    assert status == 200 and body["result"]["photo"][-1]["file_size"] == len(b"\x89PNG raw")


# ---- updates ------------------------------------------------------------------------------


async def test_get_updates_offset_confirms_and_unconfirmed_are_redelivered(
    emu: TelegramEmulator, bot: Bot, anna: UserRecord
) -> None:
    await emu.user_send(anna, anna.id, "one")
    await emu.user_send(anna, anna.id, "two")
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [u.update_id for u in first]
    rest = await bot.get_updates(offset=first[1].update_id, timeout=0)
    assert [u.update_id for u in rest] == [first[1].update_id]
    assert await bot.get_updates(offset=first[1].update_id + 1, timeout=0) == []
    assert emu.pending_updates() == []

    for text in ("a", "b", "c"):
        await emu.user_send(anna, anna.id, text)
    last = await bot.get_updates(offset=-1, timeout=0)
    assert [u.message.text for u in last if u.message] == ["c"]
    assert len(emu.pending_updates()) == 1  # the older ones were forgotten

    await bot.get_updates(offset=last[0].update_id + 1, allowed_updates=["callback_query"])
    await emu.user_send(anna, anna.id, "filtered out")
    assert emu.pending_updates() == []


async def test_long_poll_wakes_on_update_and_times_out_empty(
    emu: TelegramEmulator, bot: Bot, anna: UserRecord
) -> None:
    began = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await emu.user_send(anna, anna.id, "wake up")
    updates = await poll
    assert updates[0].message is not None and updates[0].message.text == "wake up"
    assert time.monotonic() - began < 2

    began = time.monotonic()
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == []
    assert 0.9 <= time.monotonic() - began < 2


async def test_second_poller_terminates_the_first(emu: TelegramEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await emu.wait_for(lambda: emu.state.bots[123456].poll_generation == 1)
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await first


async def test_dispatcher_polling_end_to_end(
    emu: TelegramEmulator, bot: Bot, group: int, anna: UserRecord
) -> None:
    """aiogram's own polling loop and handlers against the emulator."""
    dp = Dispatcher()

    @dp.message(F.chat.type == "private")
    async def relay(message: Message, bot: Bot) -> None:
        assert message.from_user is not None
        topic = await bot.create_forum_topic(group, message.from_user.full_name)
        await message.copy_to(group, message_thread_id=topic.message_thread_id)

    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
    )
    try:
        await emu.user_send(anna, anna.id, "hello desk")
        copies = await emu.wait_for(
            lambda: [
                m for m in emu.messages(group, from_bot=True) if m.get("text") == "hello desk"
            ]
        )
    finally:
        await dp.stop_polling()
        await polling
    assert copies[0]["message_thread_id"] == emu.topics(group)[0]["message_thread_id"]


# ---- text and entities --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("fish & chips", 'Character "&" at byte offset 5 must be escaped'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("</b>", "Unexpected end tag at byte offset 0"),
    ],
)
async def test_html_parse_errors(
    emu: TelegramEmulator, bot: Bot, group: int, html: str, error: str
) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities") as caught:
        await bot.send_message(group, html, parse_mode="HTML")
    assert error in caught.value.message
    assert emu.messages(group, from_bot=True) == []


async def test_html_escapes_and_utf16_offsets(bot: Bot, group: int) -> None:
    escaped = await bot.send_message(group, "&lt;b&gt;&amp;&lt;3 &#127881;", parse_mode="HTML")
    assert escaped.text == "<b>&<3 🎉" and not escaped.entities

    html = '  <b>😀x</b> <i>y</i> <a href="https://e.x/?a=1&amp;b=2">l</a> <pre><code '
    html += 'class="language-py">p</code></pre>\n'
    sent = await bot.send_message(group, html, parse_mode="HTML")
    assert sent.text == "😀x y l p"  # trimmed like Telegram
    entities = [(e.type, e.offset, e.length) for e in sent.entities or []]
    # the emoji is 2 UTF-16 code units: bold spans 3, everything after shifts by one
    assert entities == [("bold", 0, 3), ("italic", 4, 1), ("text_link", 6, 1), ("pre", 8, 1)]
    link, pre = sent.entities[2], sent.entities[3]  # type: ignore[index]
    assert link.url == "https://e.x/?a=1&b=2" and pre.language == "py"

    explicit = await bot.send_message(
        group, "hi there", entities=[MessageEntity(type="underline", offset=3, length=5)]
    )
    assert explicit.entities and explicit.entities[0].type == "underline"


async def test_user_links_become_mentions_of_known_users(
    bot: Bot, group: int, anna: UserRecord
) -> None:
    sent = await bot.send_message(
        group,
        f'<a href="tg://user?id={anna.id}">Anna</a> and <a href="tg://user?id=42">ghost</a>',
        parse_mode="HTML",
    )
    assert sent.text == "Anna and ghost"
    [mention] = sent.entities or []
    assert mention.type == "text_mention" and (mention.offset, mention.length) == (0, 4)
    assert mention.user is not None and mention.user.id == anna.id


async def test_text_and_caption_limits(bot: Bot, group: int) -> None:
    assert len((await bot.send_message(group, "x" * 4096)).text or "") == 4096
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(group, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(group, "<b> </b>", parse_mode="HTML")
    photo = BufferedInputFile(b"img", "p.jpg")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(group, photo, caption="c" * 1025)
    assert (await bot.send_photo(group, photo, caption="c" * 1024)).caption == "c" * 1024


async def test_limits_count_utf16_code_units(bot: Bot, group: int) -> None:
    # The conservative reading of "4096 characters": an astral emoji is 2 UTF-16 units.
    assert (await bot.send_message(group, "🎉" * 2048)).text == "🎉" * 2048
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(group, "🎉" * 2048 + "x")
    photo = BufferedInputFile(b"img", "p.jpg")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(group, photo, caption="🎉" * 513)
    assert (await bot.send_photo(group, photo, caption="🎉" * 512)).caption == "🎉" * 512


# ---- forum topics -------------------------------------------------------------------------


async def test_general_topic_has_no_thread_id(
    emu: TelegramEmulator, bot: Bot, group: int, oleg: UserRecord
) -> None:
    # Telegram: omit message_thread_id to post in General; 1 (its MTProto id) is refused.
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(group, "general?", message_thread_id=1)
    root = await emu.user_send(oleg, group, "hello team")
    assert "message_thread_id" not in root
    await drain(bot)
    # A reply in General carries the replied thread's root as message_thread_id, without
    # is_topic_message; that id is no topic.
    reply = await emu.user_send(oleg, group, "re: hello", reply_to=root["message_id"])
    again = await emu.user_send(oleg, group, "re: re", reply_to=reply["message_id"])
    [first, second] = [u.message for u in await bot.get_updates(timeout=0)]
    assert first is not None and second is not None
    assert first.message_thread_id == second.message_thread_id == root["message_id"]
    assert not first.is_topic_message and not second.is_topic_message
    assert again["message_thread_id"] == root["message_id"]
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(group, "x", message_thread_id=root["message_id"])
    # replying without a thread id lands in General, like the message replied to
    answer = await bot.send_message(
        group, "answer", reply_parameters=ReplyParameters(message_id=reply["message_id"])
    )
    assert not answer.is_topic_message and answer.message_thread_id == root["message_id"]



async def test_topic_lifecycle(emu: TelegramEmulator, bot: Bot, group: int) -> None:
    topic = await bot.create_forum_topic(group, "Anna · TG", icon_color=16766590)
    tid = topic.message_thread_id
    [created] = emu.messages(group, thread_id=tid)
    assert created["message_id"] == tid  # the service message's id IS the thread id
    assert created["forum_topic_created"] == {"name": "Anna · TG", "icon_color": 16766590}

    inside = await bot.send_message(group, "in topic", message_thread_id=tid)
    assert inside.message_thread_id == tid and inside.is_topic_message
    assert inside.reply_to_message is not None  # Telegram's implicit reply to the topic root
    assert inside.reply_to_message.forum_topic_created is not None
    general = await bot.send_message(group, "general")
    assert general.message_thread_id is None and general.is_topic_message is None

    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.edit_forum_topic(group, tid, name="Anna · TG")
    await bot.edit_forum_topic(group, tid, name="Anna (VIP)")
    await bot.close_forum_topic(group, tid)
    assert emu.topics(group)[0] | {"name": "Anna (VIP)", "closed": True} == emu.topics(group)[0]
    with pytest.raises(TelegramBadRequest, match="TOPIC_CLOSED"):
        await bot.send_message(group, "closed?", message_thread_id=tid)
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(group, tid)
    await bot.reopen_forum_topic(group, tid)
    await bot.send_message(group, "open again", message_thread_id=tid)

    await bot.delete_forum_topic(group, tid)
    assert emu.messages(group, thread_id=tid) == []
    assert emu.topics(group)[0]["deleted"] is True
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(group, "gone", message_thread_id=tid)
    with pytest.raises(TelegramBadRequest, match="TOPIC_ID_INVALID"):
        await bot.reopen_forum_topic(group, tid)


async def test_topics_managed_by_humans(emu: TelegramEmulator, bot: Bot, group: int) -> None:
    tid = await new_topic(bot, group)
    emu.close_topic(group, tid)
    with pytest.raises(TelegramBadRequest, match="TOPIC_CLOSED"):
        await bot.send_message(group, "x", message_thread_id=tid)
    emu.options.closed_topic_admin_bypass = True  # the unverified "admins may post" variant
    await bot.send_message(group, "admin bypass", message_thread_id=tid)
    emu.delete_topic(group, tid)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(group, "x", message_thread_id=tid)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(group, "x", message_thread_id=9999)


async def test_topic_creation_errors(emu: TelegramEmulator, bot: Bot, group: int) -> None:
    plain = emu.create_supergroup("Plain", forum=False)
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(plain, "x")
    no_rights = emu.create_supergroup("No rights", bot_admin=True, can_manage_topics=False)
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await bot.create_forum_topic(no_rights, "x")
    member_only = emu.create_supergroup("Member", bot_admin=False)
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await bot.create_forum_topic(member_only, "x")
    with pytest.raises(TelegramBadRequest, match="TOPIC_TITLE_TOO_LONG"):
        await bot.create_forum_topic(group, "n" * 129)
    with pytest.raises(TelegramBadRequest, match="TOPIC_TITLE_TOO_LONG"):
        await bot.create_forum_topic(group, "🎉" * 65)  # 130 UTF-16 code units
    with pytest.raises(TelegramBadRequest, match="TOPIC_ICON_COLOR_INVALID"):
        await bot.create_forum_topic(group, "x", icon_color=123)
    assert emu.topics(group) == []


# ---- what the bot sees --------------------------------------------------------------------


async def test_group_updates_by_role(
    emu: TelegramEmulator, bot: Bot, group: int, oleg: UserRecord
) -> None:
    other = emu.add_bot("777:other", username="other_bot")
    quiet = emu.add_bot("778:quiet", username="quiet_bot")
    emu.add_member(group, other, admin=True)
    emu.add_member(group, quiet)  # a plain member bot: privacy mode applies
    tid = await new_topic(bot, group)
    await bot.send_message(group, "from relay", message_thread_id=tid)
    await emu.user_send(oleg, group, "operator answer", thread_id=tid)
    await emu.user_send(oleg, group, "/help@quiet_bot")

    def texts(record: BotRecord) -> list[Any]:
        return [u["message"].get("text") for u in emu.pending_updates(record) if "message" in u]

    updates = [u.message for u in await bot.get_updates(timeout=0) if u.message]
    # A bot receives none of its own messages but a few service messages: the topics it
    # creates among them (as the official Bot API server does).
    assert [m.text for m in updates] == [None, "operator answer", "/help@quiet_bot"]
    created = updates[0]
    assert created.forum_topic_created is not None and created.from_user is not None
    assert created.from_user.id == bot.id and created.message_thread_id == tid
    assert updates[1].message_thread_id == tid and updates[1].is_topic_message
    assert updates[2].message_thread_id is None  # General has no thread id
    # bots don't see bots (Bot-to-Bot mode off); admins see service messages and people
    assert texts(other) == [None, "operator answer", "/help@quiet_bot"]
    assert emu.pending_updates(other)[0]["message"]["forum_topic_created"]["name"] == "Anna"
    assert texts(quiet) == [None, "/help@quiet_bot"]  # privacy mode: commands only

    other.bot_to_bot = True
    await bot.send_message(group, "bot to bot")
    assert texts(other)[-1] == "bot to bot"


# ---- copies, forwards, files --------------------------------------------------------------


async def test_copy_message(emu: TelegramEmulator, bot: Bot, group: int, anna: UserRecord) -> None:
    bold = [{"type": "bold", "offset": 0, "length": 4}]
    text = await emu.user_send(anna, anna.id, "Help me <please> & thanks", entities=bold)
    photo = await emu.user_send_media(anna, anna.id, "photo", caption="old", data=b"IMG")
    tid = await new_topic(bot, group)

    copied = await bot.copy_message(group, anna.id, text["message_id"], message_thread_id=tid)
    stored = emu.message(group, copied.message_id)
    assert stored is not None
    assert (stored["text"], stored["entities"]) == (text["text"], bold)
    assert stored["from"]["id"] == 123456 and stored["message_thread_id"] == tid
    assert "forward_origin" not in stored

    recaptioned = await bot.copy_message(
        group,
        anna.id,
        photo["message_id"],
        message_thread_id=tid,
        caption="<i>new</i>",
        parse_mode="HTML",
    )
    again = emu.message(group, recaptioned.message_id)
    assert again is not None and again["caption"] == "new" and len(again["photo"]) == 2

    with pytest.raises(TelegramBadRequest, match="message can't be copied"):
        await bot.copy_message(anna.id, group, tid)  # the forum_topic_created message
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(group, anna.id, 999)


async def test_copy_messages_keeps_albums_together(
    emu: TelegramEmulator, bot: Bot, group: int, anna: UserRecord
) -> None:
    album = await emu.user_send_album(anna, anna.id, ["photo", "video"], caption="trip")
    note = await emu.user_send(anna, anna.id, "that's all")
    ids = [m["message_id"] for m in album] + [note["message_id"]]
    tid = await new_topic(bot, group)

    copies = await bot.copy_messages(group, anna.id, ids + [500], message_thread_id=tid)
    assert len(copies) == 3  # the missing id 500 is skipped
    stored = [emu.message(group, c.message_id) for c in copies]
    groups = [m.get("media_group_id") if m else "missing" for m in stored]
    assert groups[0] == groups[1] and groups[0] not in (None, album[0]["media_group_id"])
    assert groups[2] is None
    assert stored[0] and stored[0]["caption"] == "trip"
    with pytest.raises(TelegramBadRequest, match="strictly increasing"):
        await bot.copy_messages(group, anna.id, [ids[1], ids[0]])


async def test_copy_messages_skips_deleted_and_answers_only_the_copies(
    emu: TelegramEmulator, bot: Bot, group: int, anna: UserRecord
) -> None:
    sent = [await emu.user_send(anna, anna.id, f"m{i}") for i in range(3)]
    ids = [m["message_id"] for m in sent]
    await emu.user_delete(anna, anna.id, ids[0])
    tid = await new_topic(bot, group)
    copies = await bot.copy_messages(group, anna.id, ids, message_thread_id=tid)
    # Shorter than message_ids, and nothing says which source each copy came from.
    assert [emu.message(group, c.message_id)["text"] for c in copies] == ["m1", "m2"]  # type: ignore[index]
    await emu.user_delete(anna, anna.id, ids[1])
    await emu.user_delete(anna, anna.id, ids[2])
    # TDLib's wording, for copyMessages as well as forwardMessages
    with pytest.raises(TelegramBadRequest, match="there are no messages to forward"):
        await bot.copy_messages(group, anna.id, ids, message_thread_id=tid)
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(group, anna.id, ids[2], message_thread_id=tid)


async def test_forward_origin_respects_privacy(
    emu: TelegramEmulator, bot: Bot, group: int, anna: UserRecord
) -> None:
    hidden = emu.add_user("Shy", last_name="One", hide_forwards=True)
    visible = await emu.user_send(anna, anna.id, "visible")
    secret = await emu.user_send(hidden, hidden.id, "secret")
    first = await bot.forward_message(group, anna.id, visible["message_id"])
    second = await bot.forward_message(group, hidden.id, secret["message_id"])
    assert first.forward_origin is not None and first.forward_origin.type == "user"
    assert first.forward_origin.sender_user.id == anna.id  # type: ignore[union-attr]
    assert second.forward_origin is not None and second.forward_origin.type == "hidden_user"
    assert second.forward_origin.sender_user_name == "Shy One"  # type: ignore[union-attr]


async def test_uploads_get_file_and_download(
    emu: TelegramEmulator, bot: Bot, group: int, anna: UserRecord
) -> None:
    sent = await bot.send_document(group, BufferedInputFile(b"%PDF-1.7 data", "report.pdf"))
    assert sent.document is not None and sent.document.file_name == "report.pdf"
    info = await bot.get_file(sent.document.file_id)
    assert info.file_path is not None
    assert (await bot.download_file(info.file_path)).read() == b"%PDF-1.7 data"  # type: ignore[union-attr]

    await emu.user_send_media(anna, anna.id, "photo", data=b"customer image")
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.photo is not None
    file_id = update.message.photo[-1].file_id
    path = (await bot.get_file(file_id)).file_path
    assert path is not None
    assert (await bot.download_file(path)).read() == b"customer image"  # type: ignore[union-attr]
    resent = await bot.send_photo(group, file_id)
    assert (
        resent.photo and resent.photo[-1].file_unique_id == update.message.photo[-1].file_unique_id
    )

    with pytest.raises(TelegramBadRequest, match="can't use file of type Document as Photo"):
        await bot.send_photo(group, sent.document.file_id)
    emu.add_bot("555:second")
    emu.add_member(group, emu.state.bots[555], admin=True)
    second = make_bot(emu, "555:second")
    try:  # file ids are per bot on Telegram
        with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
            await second.send_photo(group, file_id)
    finally:
        await second.session.close()


async def test_media_group_rules(bot: Bot, group: int) -> None:
    def photo(n: int) -> InputMediaPhoto:
        return InputMediaPhoto(media=BufferedInputFile(b"p%d" % n, f"{n}.jpg"))

    album = await bot.send_media_group(group, [photo(1), photo(2)])
    assert len({m.media_group_id for m in album}) == 1 and album[0].media_group_id
    with pytest.raises(TelegramBadRequest, match="2-10 items"):
        await bot.send_media_group(group, [photo(1)])
    doc = InputMediaDocument(media=BufferedInputFile(b"d", "d.txt"))
    with pytest.raises(TelegramBadRequest, match="document can't be mixed"):
        await bot.send_media_group(group, [photo(1), doc])


# ---- replies and edits --------------------------------------------------------------------


async def test_reply_targets(
    emu: TelegramEmulator, bot: Bot, group: int, oleg: UserRecord
) -> None:
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(group, "x", reply_parameters=ReplyParameters(message_id=999))
    lenient = await bot.send_message(
        group,
        "x",
        reply_parameters=ReplyParameters(message_id=999, allow_sending_without_reply=True),
    )
    assert lenient.reply_to_message is None
    tid = await new_topic(bot, group)
    question = await emu.user_send(oleg, group, "question", thread_id=tid)
    # no thread given: a reply lands in the replied message's topic
    answer = await bot.send_message(
        group, "answer", reply_parameters=ReplyParameters(message_id=question["message_id"])
    )
    assert answer.message_thread_id == tid
    assert answer.reply_to_message is not None and answer.reply_to_message.text == "question"


async def test_edits(emu: TelegramEmulator, bot: Bot, group: int, oleg: UserRecord) -> None:
    sent = await bot.send_message(group, "draft")
    edited = await bot.edit_message_text(
        "<b>final</b>", chat_id=group, message_id=sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, Message) and edited.text == "final" and edited.edit_date
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "<b>final</b>", chat_id=group, message_id=sent.message_id, parse_mode="HTML"
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=group, message_id=999)
    theirs = await emu.user_send(oleg, group, "operator text")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=group, message_id=theirs["message_id"])
    photo = await bot.send_photo(group, BufferedInputFile(b"i", "i.jpg"), caption="a")
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=group, message_id=photo.message_id)
    await bot.edit_message_caption(chat_id=group, message_id=photo.message_id, caption="b")
    assert [m.get("text", m.get("caption")) for m in emu.messages(group, from_bot=True)] == [
        "final",
        "b",
    ]

    await drain(bot)
    await emu.user_edit(oleg, group, theirs["message_id"], text="operator text, fixed")
    [update] = await bot.get_updates(timeout=0)
    assert update.edited_message is not None
    assert update.edited_message.text == "operator text, fixed" and update.edited_message.edit_date
    assert emu.message(group, theirs["message_id"])["text"] == "operator text, fixed"  # type: ignore[index]


async def test_live_location_moves_arrive_as_edits_and_have_no_caption(
    emu: TelegramEmulator, bot: Bot, group: int, anna: UserRecord
) -> None:
    spot = await emu.user_send_media(anna, anna.id, "location", live_period=600)
    await emu.user_move_live_location(anna, anna.id, spot["message_id"], 1.5, 2.5)
    [_, moved] = await bot.get_updates(timeout=0)
    assert moved.edited_message is not None and moved.edited_message.location is not None
    assert moved.edited_message.location.latitude == 1.5 and moved.edited_message.caption is None
    for kind in ("location", "sticker"):
        sent = await emu.user_send_media(anna, anna.id, kind)
        copy = await bot.copy_message(group, anna.id, sent["message_id"])
        with pytest.raises(TelegramBadRequest, match="there is no caption in the message"):
            await bot.edit_message_caption(chat_id=group, message_id=copy.message_id,
                                           caption="")


async def test_deleting_messages(emu: TelegramEmulator, bot: Bot, anna: UserRecord) -> None:
    await started(emu, anna, bot)
    incoming = await emu.user_send(anna, anna.id, "delete me")
    await bot.delete_message(anna.id, incoming["message_id"])  # allowed in private chats
    assert [m["text"] for m in emu.messages(anna.id)] == ["/start"]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(anna.id, incoming["message_id"])


# ---- private chats: who may be written to -------------------------------------------------


async def test_blocked_and_never_started_users(
    emu: TelegramEmulator, bot: Bot, anna: UserRecord
) -> None:
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(anna.id, "hi")
    await started(emu, anna, bot)
    await bot.send_message(anna.id, "hi")
    # no topic mode in private chats here: a thread id names a thread that doesn't exist
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(anna.id, "in a thread?", message_thread_id=5)

    await emu.user_block_bot(anna)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(anna.id, "still there?")
    with pytest.raises(ControlError, match="blocked"):
        await emu.user_send(anna, anna.id, "can't, blocked")
    await emu.user_unblock_bot(anna)
    await bot.send_message(anna.id, "welcome back")

    changes = [u.my_chat_member for u in await bot.get_updates(timeout=0) if u.my_chat_member]
    assert [(c.old_chat_member.status, c.new_chat_member.status) for c in changes] == [
        ("member", "kicked"),
        ("kicked", "member"),
    ]
    assert changes[0].from_user.id == anna.id and changes[0].chat.id == anna.id


async def test_callback_buttons(emu: TelegramEmulator, bot: Bot, anna: UserRecord) -> None:
    await started(emu, anna, bot)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Rate 5", callback_data="csat:5")]]
    )
    sent = await bot.send_message(anna.id, "How did we do?", reply_markup=keyboard)
    query_id = await emu.user_press_button(anna, anna.id, sent.message_id, "csat:5")
    [update] = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.id == query_id and query.data == "csat:5"
    assert query.message is not None and query.message.message_id == sent.message_id
    await bot.answer_callback_query(query.id, text="Thanks!")
    assert emu.callback_answer(query_id) == {"text": "Thanks!", "show_alert": False, "url": None}
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(ControlError, match="no button"):
        await emu.user_press_button(anna, anna.id, sent.message_id, "csat:1")
    too_long = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(anna.id, "x", reply_markup=too_long)


# ---- flood control ------------------------------------------------------------------------


async def test_group_limit_is_shared_by_topics_and_violations_are_recorded(
    emu: TelegramEmulator, bot: Bot, group: int
) -> None:
    first, second = await new_topic(bot, group, "A"), await new_topic(bot, group, "B")
    emu.set_rate_limits(group=(3, 1.0))
    one = await bot.send_message(group, "1", message_thread_id=first)
    await bot.send_message(group, "2", message_thread_id=first)
    await bot.send_message(group, "3", message_thread_id=second)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(group, "4", message_thread_id=second)
    assert caught.value.retry_after == 1
    assert emu.violations == []  # hitting the limit once is fine...
    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text("x", chat_id=group, message_id=one.message_id)
    [violation] = emu.violations  # ...ignoring the announced retry_after is not
    assert (violation.chat_id, violation.scope, violation.method) == (
        group,
        "group",
        "editMessageText",
    )
    await asyncio.sleep(caught.value.retry_after)
    await bot.send_message(group, "4", message_thread_id=second)
    assert [r.status for r in emu.calls("sendMessage")][-2:] == [429, 200]


async def test_each_album_item_and_copy_counts(
    emu: TelegramEmulator, bot: Bot, group: int, anna: UserRecord
) -> None:
    album = await emu.user_send_album(anna, anna.id, ["photo", "photo"])
    emu.set_rate_limits(group=(3, 1.0))
    await bot.copy_messages(group, anna.id, [m["message_id"] for m in album])
    with pytest.raises(TelegramRetryAfter):  # 2 + 2 > 3, although it is one request
        await bot.send_media_group(
            group, [InputMediaPhoto(media=BufferedInputFile(b"x", "x.jpg"))] * 2
        )


async def test_private_and_per_bot_limits(emu: TelegramEmulator, bot: Bot, group: int) -> None:
    people = [emu.add_user(f"P{i}") for i in range(3)]
    for person in people:
        await emu.user_send(person, person.id, "/start")
    emu.set_rate_limits(private=(1, 0.5), bot=(3, 0.5))
    await bot.send_message(people[0].id, "a")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(people[0].id, "b")
    assert caught.value.retry_after == 1  # ceil, never 0
    await bot.send_message(people[1].id, "c")
    await bot.send_message(people[2].id, "d")
    with pytest.raises(TelegramRetryAfter):  # 4th message of the bot in the window
        await bot.send_message(group, "e")
    emu.set_rate_limits(enabled=False)
    await bot.send_message(group, "limits off")


# ---- fault injection ----------------------------------------------------------------------


async def test_injected_errors_delays_and_dropped_connections(
    emu: TelegramEmulator, bot: Bot, group: int
) -> None:
    other = emu.create_supergroup("Other")
    emu.inject_fault("sendMessage", error_code=500, description="Internal Server Error")
    with pytest.raises(TelegramServerError):
        await bot.send_message(group, "x")
    await bot.send_message(group, "fault used up")

    emu.inject_fault(
        "sendmessage",
        error_code=429,
        description="Too Many Requests: retry after 7",
        retry_after=7,
        chat_id=other,
    )
    await bot.send_message(group, "other chat unaffected")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(other, "x")
    assert caught.value.retry_after == 7

    emu.inject_delay("getMe", 0.3)
    began = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - began >= 0.3

    emu.drop_connection("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(group, "lost before")
    emu.drop_connection("sendMessage", after=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(group, "lost after")
    texts = [m["text"] for m in emu.messages(group, from_bot=True)]
    assert "lost before" not in texts and "lost after" in texts  # sent, answer lost
    assert [r.dropped for r in emu.calls("sendMessage")][-2:] == [True, True]

    emu.inject_fault("*", error_code=502, description="Bad Gateway", times=None)
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    emu.reset_faults()
    await bot.get_me()

    # a share of the calls, drawn at random: some fail, some pass, none is lost silently
    emu.inject_fault("getMe", error_code=502, description="Bad Gateway", times=None,
                     chance=0.5)
    outcomes = []
    for _ in range(40):
        try:
            await bot.get_me()
            outcomes.append(True)
        except TelegramServerError:
            outcomes.append(False)
    assert 0 < outcomes.count(False) < 40
    assert [r.ok for r in emu.calls("getMe")][-40:] == outcomes
    emu.reset_faults()


# ---- control API --------------------------------------------------------------------------


async def test_http_control_mirror(
    emu: TelegramEmulator, bot: Bot, group: int, bot_record: BotRecord
) -> None:
    status, body = await raw_post(emu, "/_control/add_user", json={"first_name": "Remote"})
    assert status == 200
    user_id = body["result"]["id"]
    status, body = await raw_post(
        emu, "/_control/user_send", json={"user_id": user_id, "chat_id": user_id, "text": "hey"}
    )
    assert body["result"]["text"] == "hey"
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.from_user.id == user_id  # type: ignore[union-attr]
    status, body = await raw_post(emu, "/_control/user_delete", json={
        "user_id": user_id, "chat_id": user_id, "message_id": update.message.message_id})
    assert status == 200 and emu.messages(user_id) == []

    await raw_post(emu, "/_control/add_member", json={"chat_id": group, "user_id": user_id})
    await raw_post(
        emu,
        "/_control/user_send_media",
        json={"user_id": user_id, "chat_id": group, "kind": "location", "latitude": 1.5},
    )
    status, body = await raw_get(emu, f"/_control/messages?chat_id={group}&from_bot=false")
    assert body["result"][-1]["location"]["latitude"] == 1.5

    await raw_post(emu, "/_control/rate_limits", json={"group": [1, 5]})
    await bot.send_message(group, "one")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(group, "two")
    status, body = await raw_get(emu, "/_control/requests?method=sendMessage")
    assert [r["status"] for r in body["result"]] == [200, 429]
    status, body = await raw_get(emu, "/_control/state")
    assert body["result"]["groups"][0]["id"] == group and body["result"]["rate_limits"]["enabled"]

    status, body = await raw_post(
        emu, "/_control/user_send", json={"user_id": 1, "chat_id": 1, "text": "x"}
    )
    assert status == 400 and "unknown user 1" in body["error"]
    status, body = await raw_post(emu, "/_control/user_send", json={"user_id": user_id})
    assert status == 400 and "missing field" in body["error"]


async def test_http_control_user_send_many(emu: TelegramEmulator, bot: Bot) -> None:
    status, body = await raw_post(emu, "/_control/add_user", json={"first_name": "Flooder"})
    user_id = body["result"]["id"]
    status, body = await raw_post(emu, "/_control/user_send_many", json={
        "user_id": user_id, "chat_id": user_id, "texts": ["one", "two", "three"]})
    assert status == 200 and len(body["result"]["message_ids"]) == 3
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["one", "two", "three"]
    assert [u.message.message_id for u in updates if u.message] == \
        body["result"]["message_ids"]

    status, body = await raw_post(emu, "/_control/user_send_many", json={
        "user_id": user_id, "chat_id": user_id, "texts": "one"})
    assert status == 400 and "texts must be a list" in body["error"]


async def test_wait_for_reports_recent_calls_on_timeout(
    emu: TelegramEmulator, bot: Bot, group: int
) -> None:
    await bot.send_message(group, "something else")
    with pytest.raises(TimeoutError) as caught:
        await emu.wait_for(lambda: False, timeout=0.2, message="the card")
    report = str(caught.value)
    assert "the card" in report and "sendMessage" in report and "something else" in report
    waiter = asyncio.create_task(emu.wait_for(lambda: emu.messages(group, from_bot=True)[1:]))
    await bot.send_message(group, "awaited")
    assert (await waiter)[0]["text"] == "awaited"


async def test_people_cannot_do_the_impossible(
    emu: TelegramEmulator, bot: Bot, group: int, anna: UserRecord, oleg: UserRecord
) -> None:
    with pytest.raises(ControlError, match="not a member"):
        await emu.user_send(anna, group, "let me in")
    with pytest.raises(ControlError, match="own private chat"):
        await emu.user_send(anna, oleg.id, "hi Oleg")
    tid = await new_topic(bot, group)
    await bot.close_forum_topic(group, tid)
    with pytest.raises(ControlError, match="TOPIC_CLOSED"):
        await emu.user_send(oleg, group, "x", thread_id=tid)
    emu.add_member(group, oleg, admin=True, can_manage_topics=True)
    await emu.user_send(oleg, group, "admins may", thread_id=tid)
    emu.delete_topic(group, tid)
    with pytest.raises(ControlError, match="thread not found"):
        await emu.user_send(oleg, group, "x", thread_id=tid)


async def test_command_line_entry_point() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.telegram",
        "--port",
        "0",
        "--token",
        "42:abc",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] != "}":
            lines.append((await asyncio.wait_for(proc.stdout.readline(), 10)).decode().rstrip())
        info = json.loads("\n".join(lines))
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{info['base_url']}/bot42:abc/getChat", params={"chat_id": info["group_id"]}
            ) as resp,
        ):
            chat = (await resp.json())["result"]
        assert chat["is_forum"] is True and info["bot_id"] == 42
    finally:
        proc.terminate()
        await proc.communicate()

"""Caption limits in the Telegram emulator: 1024 UTF-16 units for bots, 2048 for Premium
users, and a Premium user's long caption copied only as it is."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    ReplyParameters,
)

from sandbox.telegram import BotRecord, ControlError, TelegramEmulator, UserRecord

TOO_LONG = "message caption is too long"


async def test_people_caption_up_to_1024_and_premium_people_up_to_2048(
    emu: TelegramEmulator, bot_record: BotRecord, anna: UserRecord
) -> None:
    vip = emu.add_user("Vip", is_premium=True)
    mine = await emu.user_send_media(anna, anna.id, "photo", caption="a" * 1024)
    with pytest.raises(ControlError, match="1024"):
        await emu.user_send_media(anna, anna.id, "photo", caption="a" * 1025)
    sent = await emu.user_send_media(vip, vip.id, "photo", caption="v" * 2048)
    assert sent["caption"] == "v" * 2048
    with pytest.raises(ControlError, match="2048"):
        await emu.user_send_media(vip, vip.id, "photo", caption="v" * 2049)
    with pytest.raises(ControlError, match="2048"):  # UTF-16 units, like the bot's limits
        await emu.user_send_media(vip, vip.id, "photo", caption="🎉" * 1025)
    with pytest.raises(ControlError, match="1024"):  # and editing is held to the same
        await emu.user_edit(anna, anna.id, mine["message_id"], caption="a" * 1025)


async def test_bots_send_and_edit_captions_up_to_1024(bot: Bot, group: int) -> None:
    doc = BufferedInputFile(b"%PDF", "a.pdf")
    with pytest.raises(TelegramBadRequest, match=TOO_LONG):
        await bot.send_document(group, doc, caption="d" * 1025)
    sent = await bot.send_document(group, doc, caption="d" * 1024)
    with pytest.raises(TelegramBadRequest, match=TOO_LONG):
        await bot.edit_message_caption(chat_id=group, message_id=sent.message_id,
                                       caption="e" * 1025)
    edited = await bot.edit_message_caption(chat_id=group, message_id=sent.message_id,
                                            caption="e" * 1024)
    assert not isinstance(edited, bool) and edited.caption == "e" * 1024
    with pytest.raises(TelegramBadRequest, match=TOO_LONG):
        await bot.send_media_group(group, [
            InputMediaDocument(media=BufferedInputFile(b"1", "1.pdf"), caption="m" * 1025),
            InputMediaDocument(media=BufferedInputFile(b"2", "2.pdf")),
        ])


async def test_a_premium_caption_is_copied_only_as_it_is(
    emu: TelegramEmulator, bot: Bot, group: int
) -> None:
    """tdlib/telegram-bot-api#334: the copy of a message with a Premium caption succeeds
    as it is (into a topic too) and fails when it must change: a reply, a keyboard. A new
    caption replaces the long one, so it is held to the bot's limit instead."""
    vip = emu.add_user("Vip", is_premium=True)
    earlier = await emu.user_send(vip, vip.id, "hello")
    long = await emu.user_send_media(vip, vip.id, "photo", caption="c" * 2000)
    topic = (await bot.create_forum_topic(group, "Vip")).message_thread_id

    as_is = await bot.copy_message(group, vip.id, long["message_id"], message_thread_id=topic)
    copied = emu.message(group, as_is.message_id)
    assert copied is not None and copied["caption"] == "c" * 2000
    # An explicit reply to the topic's first message is the topic itself: no change.
    await bot.copy_message(group, vip.id, long["message_id"], message_thread_id=topic,
                           reply_parameters=ReplyParameters(message_id=topic))
    [batch] = await bot.copy_messages(group, vip.id, [long["message_id"]],
                                      message_thread_id=topic)
    assert (emu.message(group, batch.message_id) or {})["caption"] == "c" * 2000

    with pytest.raises(TelegramBadRequest, match=TOO_LONG):
        await bot.copy_message(group, vip.id, long["message_id"], message_thread_id=topic,
                               reply_parameters=ReplyParameters(message_id=as_is.message_id))
    with pytest.raises(TelegramBadRequest, match=TOO_LONG):
        await bot.copy_message(vip.id, vip.id, long["message_id"],
                               reply_parameters=ReplyParameters(
                                   message_id=earlier["message_id"]))
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="ok", callback_data="ok")]])
    with pytest.raises(TelegramBadRequest, match=TOO_LONG):
        await bot.copy_message(group, vip.id, long["message_id"], message_thread_id=topic,
                               reply_markup=keyboard)
    with pytest.raises(TelegramBadRequest, match=TOO_LONG):
        await bot.copy_message(group, vip.id, long["message_id"], message_thread_id=topic,
                               caption="n" * 1025)

    cut = await bot.copy_message(group, vip.id, long["message_id"], message_thread_id=topic,
                                 caption="c" * 1000 + "…",
                                 reply_parameters=ReplyParameters(message_id=as_is.message_id))
    recaptioned = emu.message(group, cut.message_id)
    assert recaptioned is not None and recaptioned["caption"] == "c" * 1000 + "…"
    assert recaptioned["reply_to_message"]["message_id"] == as_is.message_id

"""editMessageText/Caption/ReplyMarkup and deleteMessage(s)."""

from __future__ import annotations

from ..delivery import fan_out
from ..errors import bad_request
from ..media import content_kind
from ..state import ChatRecord, Json, MessageRecord, now_ts
from .common import (
    bot_member,
    caption_fields,
    ensure_can_read,
    message_text,
    reply_markup,
)
from .registry import Call, api_method

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def _target(call: Call) -> tuple[ChatRecord, MessageRecord]:
    if call.params.has("inline_message_id"):
        raise bad_request("inline messages are not supported by the emulator")
    chat = call.chat()
    ensure_can_read(call, chat)
    msg = chat.live_message(call.params.require_int("message_id"))
    if msg is None:
        raise bad_request("message to edit not found")
    if msg.sender_id != call.bot.id or msg.service:
        raise bad_request("message can't be edited")
    return chat, msg


def _inline_markup(markup: Json | None) -> Json | None:
    return markup if markup and "inline_keyboard" in markup else None


def _apply(
    call: Call, chat: ChatRecord, msg: MessageRecord, content: Json, markup: Json | None
) -> Json:
    if content == msg.content and _inline_markup(markup) == _inline_markup(msg.reply_markup):
        raise bad_request(NOT_MODIFIED)
    call.acquire(chat)  # edits spend the same flood budget as sends
    msg.content = content
    # Like Telegram, an edit without reply_markup drops the inline keyboard.
    msg.reply_markup = markup
    msg.edit_date = now_ts()
    fan_out(call.state, msg, "edited_message")
    call.state.notifier.notify()
    return call.render(msg)


@api_method("editMessageText")
async def edit_message_text(call: Call) -> Json:
    chat, msg = _target(call)
    if "text" not in msg.content:
        raise bad_request("there is no text in the message to edit")
    content = {k: v for k, v in msg.content.items() if k not in ("text", "entities")}
    content.update(message_text(call))
    return _apply(call, chat, msg, content, reply_markup(call))


# Kinds that carry a caption. Stickers and video notes are files without one; Telegram's
# wording for editing their caption is undocumented, so the emulator refuses them like
# text and locations.
_CAPTIONED = frozenset({"photo", "video", "animation", "document", "audio", "voice"})


@api_method("editMessageCaption")
async def edit_message_caption(call: Call) -> Json:
    chat, msg = _target(call)
    if content_kind(msg.content) not in _CAPTIONED:
        raise bad_request("there is no caption in the message to edit")
    params = call.params
    content = {k: v for k, v in msg.content.items() if k not in ("caption", "caption_entities")}
    content.update(
        caption_fields(
            call,
            params.get_str("caption"),
            params.get_str("parse_mode"),
            params.get_json("caption_entities"),
        )
    )
    return _apply(call, chat, msg, content, reply_markup(call))


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> Json:
    chat, msg = _target(call)
    return _apply(call, chat, msg, msg.content, reply_markup(call))


def _delete(call: Call, chat: ChatRecord, message_id: int) -> None:
    msg = chat.live_message(message_id)
    if msg is None:
        raise bad_request("message to delete not found")
    member = bot_member(call, chat)
    allowed = (
        msg.sender_id == call.bot.id
        or chat.type == "private"  # bots may delete incoming messages in private chats
        or (member is not None and member.is_admin)
    )
    if not allowed or (chat.is_forum and msg.message_id in chat.topics):
        # A topic's creation message goes away only with deleteForumTopic.
        raise bad_request("message can't be deleted")
    msg.deleted = True


@api_method("deleteMessage")
async def delete_message(call: Call) -> bool:
    chat = call.chat()
    ensure_can_read(call, chat)
    _delete(call, chat, call.params.require_int("message_id"))
    call.state.notifier.notify()
    return True


@api_method("deleteMessages")
async def delete_messages(call: Call) -> bool:
    chat = call.chat()
    ensure_can_read(call, chat)
    ids = call.params.get_json("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message_ids is empty")
    deleted = 0
    for message_id in ids:
        msg = chat.live_message(int(message_id))
        if msg is not None:
            _delete(call, chat, msg.message_id)
            deleted += 1
    if not deleted:
        raise bad_request("message to delete not found")
    call.state.notifier.notify()
    return True

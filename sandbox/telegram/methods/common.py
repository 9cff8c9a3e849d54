"""Checks and building blocks shared by the sending, copying and editing methods."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..delivery import new_message, publish
from ..entities import parse_html, trim, utf16_len, validate_entities
from ..errors import bad_request, forbidden
from ..params import Params
from ..state import ChatRecord, Json, MemberRecord, MessageRecord, State
from .registry import Call

# Limits in UTF-16 code units. The Bot API says "characters"; entity offsets are UTF-16 and
# reports disagree on the limits (one measurement found code points). Counting UTF-16 is the
# conservative reading: a client that fits it fits Telegram under either.
MAX_TEXT = 4096
MAX_CAPTION = 1024
# The General topic's id in MTProto. Bot API messages in General carry no message_thread_id,
# and sending with message_thread_id=1 answers "message thread not found"
# (tdlib/telegram-bot-api#798, python-telegram-bot#4739): omit it to post in General.
GENERAL_TOPIC_ID = 1


def bot_member(call: Call, chat: ChatRecord) -> MemberRecord | None:
    return chat.members.get(call.bot.id)


def ensure_can_read(call: Call, chat: ChatRecord) -> None:
    """The bot must be in the group / have met the user, or the chat doesn't exist for it."""
    if chat.type == "private":
        if not (chat.started or chat.messages):
            raise bad_request("chat not found")
        return
    member = bot_member(call, chat)
    if member is None or not member.present:
        raise bad_request("chat not found")


def ensure_can_write(call: Call, chat: ChatRecord) -> None:
    if chat.type == "private":
        assert chat.user_id is not None
        user = call.state.users[chat.user_id]
        if user.is_bot:
            raise forbidden("bot can't send messages to bots")
        if chat.blocked:
            raise forbidden("bot was blocked by the user")
        if not chat.started:
            raise forbidden("bot can't initiate conversation with a user")
        return
    member = bot_member(call, chat)
    if member is None or member.status == "left":
        raise forbidden(f"bot is not a member of the {chat.type} chat")
    if member.status == "kicked":
        raise forbidden(f"bot was kicked from the {chat.type} chat")


def can_manage_topics(member: MemberRecord | None) -> bool:
    if member is None:
        return False
    return member.status == "creator" or (member.is_admin and member.can_manage_topics)


def check_topic_open(
    state: State, chat: ChatRecord, thread_id: int, member: MemberRecord | None
) -> None:
    topic = chat.topics.get(thread_id)
    if topic is None or topic.deleted:
        raise bad_request("message thread not found")
    if topic.closed and not (
        state.options.closed_topic_admin_bypass and can_manage_topics(member)
    ):
        raise bad_request("TOPIC_CLOSED")


@dataclass
class Destination:
    chat: ChatRecord
    thread_id: int | None
    reply_to: int | None


def reply_request(params: Params) -> tuple[int | None, bool, Any]:
    """(message_id, allow_sending_without_reply, chat_id) from either reply parameter style."""
    reply = params.get_json("reply_parameters")
    allow = params.get_bool("allow_sending_without_reply")
    if isinstance(reply, dict) and reply.get("message_id") is not None:
        allow = bool(reply.get("allow_sending_without_reply", allow))
        return int(reply["message_id"]), allow, reply.get("chat_id")
    return params.get_int("reply_to_message_id"), allow, None


def resolve_destination(call: Call, chat: ChatRecord | None = None) -> Destination:
    """Chat, topic and reply target of an outgoing message, with Telegram's checks."""
    chat = chat or call.chat()
    ensure_can_write(call, chat)
    params = call.params
    thread_id = params.get_int("message_thread_id")
    reply_id, allow_missing, reply_chat = reply_request(params)
    if reply_chat is not None and call.state.chat_for_bot(call.bot, reply_chat) is not chat:
        raise bad_request("replies to other chats are not supported by the emulator")

    target = chat.live_message(reply_id) if reply_id is not None else None
    if reply_id is not None and target is None and not allow_missing:
        raise bad_request("message to be replied not found")

    if chat.type == "private":
        # The emulator's bots have no topic mode in private chats ("threaded mode", Bot API
        # 9.3+), so no thread exists there; Telegram refuses unknown threads this way.
        if thread_id is not None:
            raise bad_request("message thread not found")
    elif chat.is_forum:
        if thread_id is None and target is not None:
            thread_id = target.thread_id  # a reply lands in the replied message's topic
        if thread_id is not None:
            check_topic_open(call.state, chat, thread_id, bot_member(call, chat))
        if target is not None and target.thread_id != thread_id:
            if not allow_missing:
                raise bad_request("message to be replied not found")
            target = None
    elif thread_id is not None and chat.live_message(thread_id) is None:
        raise bad_request("message thread not found")
    return Destination(chat, thread_id, target.message_id if target else None)


def format_text(
    call: Call, text: str, parse_mode: str | None, entities: Any
) -> tuple[str, list[Json]]:
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        parsed, found = parse_html(text, strict_ampersand=call.state.options.strict_html_ampersand)
        return parsed, _user_links(call.state, found)
    if mode in ("markdown", "markdownv2"):
        raise bad_request(f"parse_mode {parse_mode} is not supported by the emulator (use HTML)")
    if mode:
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    return trim(text, validate_entities(text, entities))


_USER_LINK = re.compile(r"^tg://user\?id=(\d+)$")


def _user_links(state: State, entities: list[Json]) -> list[Json]:
    """``<a href="tg://user?id=N">`` becomes a text_mention of a user the server knows;
    links to unknown users lose their entity (the text stays)."""
    result = []
    for entity in entities:
        match = _USER_LINK.match(entity.get("url", "")) if entity["type"] == "text_link" else None
        if match is None:
            result.append(entity)
            continue
        user = state.users.get(int(match.group(1)))
        if user is not None:
            mention = {k: v for k, v in entity.items() if k != "url"}
            result.append({**mention, "type": "text_mention", "user": user.to_api()})
    return result


def message_text(call: Call, field: str = "text") -> Json:
    params = call.params
    raw = params.require_str(field, empty="message text is empty")
    text, entities = format_text(
        call, raw, params.get_str("parse_mode"), params.get_json("entities")
    )
    if not text:
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    content: Json = {"text": text}
    if entities:
        content["entities"] = entities
    options = params.get_json("link_preview_options")
    if isinstance(options, dict) and options:
        content["link_preview_options"] = options
    return content


def caption_fields(
    call: Call,
    caption: str | None,
    parse_mode: str | None,
    entities: Any,
) -> Json:
    if caption is None or caption == "":
        return {}
    text, parsed = format_text(call, caption, parse_mode, entities)
    if utf16_len(text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    fields: Json = {"caption": text} if text else {}
    if parsed and text:
        fields["caption_entities"] = parsed
    return fields


def request_caption(call: Call) -> Json:
    params = call.params
    fields = caption_fields(
        call,
        params.get_str("caption"),
        params.get_str("parse_mode"),
        params.get_json("caption_entities"),
    )
    if fields and params.get_bool("show_caption_above_media"):
        fields["show_caption_above_media"] = True
    return fields


def reply_markup(call: Call) -> Json | None:
    markup = call.params.get_json("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    keyboard = markup.get("inline_keyboard")
    if keyboard is not None:
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in keyboard:
            for button in row:
                _check_inline_button(button)
    return markup


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not button.get("text"):
        raise bad_request("text buttons are unallowed in the inline keyboard")
    actions = {"url", "callback_data", "switch_inline_query", "web_app", "login_url", "pay"}
    actions |= {"switch_inline_query_current_chat", "copy_text", "callback_game"}
    if not actions & button.keys():
        raise bad_request("text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= 64:
        raise bad_request("BUTTON_DATA_INVALID")


def send(
    call: Call,
    content: Json,
    *,
    destination: Destination | None = None,
    media_group_id: str | None = None,
    with_markup: bool = True,
    charge: bool = True,
) -> MessageRecord:
    """Post one message from the bot: destination checks, flood control, storage, updates."""
    dest = destination or resolve_destination(call)
    markup = reply_markup(call) if with_markup else None
    if charge:
        call.acquire(dest.chat)
    msg = new_message(
        dest.chat,
        call.bot.id,
        content,
        thread_id=dest.thread_id,
        reply_to=dest.reply_to,
        media_group_id=media_group_id,
        reply_markup=markup,
    )
    return publish(call.state, msg)

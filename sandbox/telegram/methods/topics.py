"""Forum topic methods."""

from __future__ import annotations

from .. import topics
from ..entities import utf16_len
from ..errors import bad_request
from ..state import ChatRecord, Json, TopicRecord
from .common import bot_member, can_manage_topics, ensure_can_write
from .registry import Call, api_method


def _forum(call: Call) -> ChatRecord:
    chat = call.chat()
    if chat.type == "private":
        raise bad_request("the chat is not a forum")
    ensure_can_write(call, chat)
    if not chat.is_forum:
        raise bad_request("the chat is not a forum")
    return chat


def _topic(call: Call, chat: ChatRecord) -> TopicRecord:
    topic = chat.topics.get(call.params.require_int("message_thread_id"))
    if topic is None or topic.deleted:
        raise bad_request("TOPIC_ID_INVALID")
    return topic


def _check_name(name: str) -> str:
    if not name.strip():
        raise bad_request("TOPIC_TITLE_EMPTY")
    # UTF-16 code units, the same conservative reading as the text limits (TDLib cuts a long
    # title to 128 code points instead; a client within 128 units fits either).
    if utf16_len(name) > topics.MAX_TOPIC_NAME:
        raise bad_request("TOPIC_TITLE_TOO_LONG")
    return name


def _require_manager(call: Call, chat: ChatRecord, topic: TopicRecord | None, action: str) -> None:
    # The topic's creator may manage it without can_manage_topics (Bot API docs).
    if topic is not None and topic.creator_id == call.bot.id:
        return
    if not can_manage_topics(bot_member(call, chat)):
        raise bad_request(f"not enough rights to {action}")


@api_method("createForumTopic")
async def create_forum_topic(call: Call) -> Json:
    chat = _forum(call)
    params = call.params
    name = _check_name(params.get_str("name") or "")
    color = params.get_int("icon_color")
    if color is None:
        color = topics.ICON_COLORS[0]
    if color not in topics.ICON_COLORS:
        raise bad_request("TOPIC_ICON_COLOR_INVALID")
    _require_manager(call, chat, None, "create a topic")
    call.acquire(chat)  # topic creation posts a message: it counts against the group budget
    topic = topics.create_topic(
        call.state, chat, call.bot.id, name, color, params.get_str("icon_custom_emoji_id")
    )
    return topic.to_api()


@api_method("editForumTopic")
async def edit_forum_topic(call: Call) -> bool:
    chat = _forum(call)
    topic = _topic(call, chat)
    _require_manager(call, chat, topic, "edit the topic")
    params = call.params
    name = _check_name(params.get_str("name") or "") if params.has("name") else None
    emoji = (
        params.get_str("icon_custom_emoji_id") if "icon_custom_emoji_id" in params.values else None
    )
    if (name is None or name == topic.name) and (
        emoji is None or (emoji or None) == topic.icon_custom_emoji_id
    ):
        raise bad_request("TOPIC_NOT_MODIFIED")
    call.acquire(chat)
    topics.edit_topic(call.state, chat, topic, call.bot.id, name, emoji)
    return True


async def _set_closed(call: Call, closed: bool) -> bool:
    chat = _forum(call)
    topic = _topic(call, chat)
    _require_manager(call, chat, topic, "close the topic" if closed else "reopen the topic")
    if topic.closed == closed:
        raise bad_request("TOPIC_NOT_MODIFIED")
    call.acquire(chat)
    topics.set_closed(call.state, chat, topic, call.bot.id, closed)
    return True


@api_method("closeForumTopic")
async def close_forum_topic(call: Call) -> bool:
    return await _set_closed(call, True)


@api_method("reopenForumTopic")
async def reopen_forum_topic(call: Call) -> bool:
    return await _set_closed(call, False)


@api_method("deleteForumTopic")
async def delete_forum_topic(call: Call) -> bool:
    chat = _forum(call)
    topic = _topic(call, chat)
    member = bot_member(call, chat)
    if member is None or not member.is_admin:  # needs can_delete_messages
        raise bad_request("not enough rights to delete the topic")
    topics.delete_topic(call.state, chat, topic)
    return True

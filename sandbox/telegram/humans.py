"""What people do: customers and operators write, edit, block bots and press buttons.

These are the emulator-side equivalents of a Telegram client. They enforce what a real
client would not allow (writing into a deleted topic, pressing a button that isn't there)
by raising ``ControlError``, so a scenario test can't silently test the impossible.
"""

from __future__ import annotations

import random
from typing import Any

from .delivery import fan_out, new_message, publish, render_chat, render_message
from .entities import detect_entities, trim, utf16_len, validate_entities
from .errors import ControlError
from .media import FILE_KINDS, content_kind, media_content
from .state import BotRecord, ChatRecord, Json, MessageRecord, State, UserRecord, now_ts

GENERAL_TOPIC_ID = 1
MAX_TEXT = 4096
# Captions: 1024 characters, 2048 for Telegram Premium users (Premium's doubled limits, as
# bugs.telegram.org/c/29612 puts it: "the existing Premium doubled limit (2x1024=2048
# characters) in Telegram captions"; a later report speaks of 4096 since 2024). A bot's own
# captions stay at 1024 whoever it copies.
MAX_CAPTION, MAX_PREMIUM_CAPTION = 1024, 2048
NON_FILE_KINDS = ("location", "contact", "poll", "dice", "venue")


def human_chat(state: State, user: UserRecord, chat_id: int, bot: BotRecord | None) -> ChatRecord:
    """The chat a person writes in: their private chat with ``bot``, or a group."""
    if chat_id > 0:
        assert bot is not None
        if chat_id != user.id:
            raise ControlError(
                f"user {user.id} can only write in their own private chat with a bot "
                f"(chat_id={user.id}), not {chat_id}"
            )
        chat = state.private_chat(bot.id, user.id)
        if chat.blocked:
            raise ControlError(f"user {user.id} has blocked the bot; call user_unblock_bot first")
        return chat
    chat = state.groups.get(chat_id)
    if chat is None:
        raise ControlError(f"no group {chat_id}")
    member = chat.members.get(user.id)
    if member is None or not member.present:
        raise ControlError(f"user {user.id} is not a member of group {chat_id}; add_member first")
    return chat


def _resolve_thread(
    chat: ChatRecord, user: UserRecord, thread_id: int | None, reply: MessageRecord | None
) -> int | None:
    if chat.type == "private":
        if thread_id is not None:
            raise ControlError("the emulator has no topics in private chats")
        return None
    if not chat.is_forum:
        if thread_id is not None:
            raise ControlError(f"group {chat.id} is not a forum")
        return None
    if thread_id == GENERAL_TOPIC_ID:
        thread_id = None
    if thread_id is None and reply is not None:
        thread_id = reply.thread_id
    if thread_id is None:
        return None
    topic = chat.topics.get(thread_id)
    if topic is None or topic.deleted:
        raise ControlError(f"message thread not found: topic {thread_id} of {chat.id}")
    member = chat.members[user.id]
    allowed = member.status == "creator" or (member.is_admin and member.can_manage_topics)
    if topic.closed and not allowed:
        raise ControlError(f"TOPIC_CLOSED: topic {thread_id} is closed for user {user.id}")
    return thread_id


def post(
    state: State,
    user: UserRecord,
    chat: ChatRecord,
    content: Json,
    *,
    thread_id: int | None = None,
    reply_to: int | None = None,
    media_group_id: str | None = None,
) -> MessageRecord:
    reply = None
    if reply_to is not None:
        reply = chat.live_message(reply_to)
        if reply is None:
            raise ControlError(f"message {reply_to} to reply to not found in {chat.id}")
    thread = _resolve_thread(chat, user, thread_id, reply)
    if chat.type == "private":
        chat.started = True  # the bot may now write to this user
    msg = new_message(
        chat,
        user.id,
        content,
        thread_id=thread,
        reply_to=reply_to,
        media_group_id=media_group_id,
    )
    return publish(state, msg)


def text_content(text: str, entities: list[Json] | None) -> Json:
    if entities is None:
        clean, found = trim(text, detect_entities(text))
    else:
        clean, found = trim(text, validate_entities(text, entities))
    if not clean:
        raise ControlError("Telegram clients don't send empty messages")
    if utf16_len(clean) > MAX_TEXT:
        raise ControlError("text longer than 4096 characters: clients split such messages")
    content: Json = {"text": clean}
    if found:
        content["entities"] = found
    return content


def caption_content(user: UserRecord, caption: str | None, entities: list[Json] | None) -> Json:
    if not caption:
        return {}
    limit = MAX_PREMIUM_CAPTION if user.is_premium else MAX_CAPTION
    if utf16_len(caption) > limit:
        raise ControlError(f"caption longer than {limit} characters for this user")
    clean, found = trim(caption, validate_entities(caption, entities) if entities else [])
    result: Json = {"caption": clean}
    if found:
        result["caption_entities"] = found
    return result


def media_message(
    state: State,
    user: UserRecord,
    kind: str,
    *,
    data: bytes | None,
    file_name: str | None,
    mime_type: str | None,
    fields: dict[str, Any],
) -> Json:
    """Content of a media/location/contact/poll/dice/venue message sent by ``user``."""
    if kind in FILE_KINDS:
        if kind == "document" and file_name is None:
            file_name = "file.bin"
        payload = data if data is not None else f"{kind} from {user.first_name}".encode()
        record = state.store_file(kind, payload, file_name=file_name, mime_type=mime_type)
        return media_content(record, kind, {"file_name": file_name, **fields})
    location = {
        "latitude": float(fields.get("latitude", 55.7558)),
        "longitude": float(fields.get("longitude", 37.6173)),
    }
    if kind == "location":
        if fields.get("live_period"):
            location["live_period"] = int(fields["live_period"])
        return {"location": location}
    if kind == "venue":
        venue = {
            "location": location,
            "title": fields.get("title", "Office"),
            "address": fields.get("address", "Main street 1"),
        }
        return {"venue": venue, "location": location}
    if kind == "contact":
        contact = {
            "phone_number": fields.get("phone_number", "+10000000000"),
            "first_name": fields.get("first_name", user.first_name),
        }
        if "user_id" in fields:
            contact["user_id"] = fields["user_id"]
        return {"contact": contact}
    if kind == "dice":
        emoji = fields.get("emoji", "🎲")
        return {"dice": {"emoji": emoji, "value": int(fields.get("value", random.randint(1, 6)))}}  # noqa: S311
    if kind == "poll":
        options = fields.get("options", ["Yes", "No"])
        return {
            "poll": {
                "id": state.new_callback_id(),
                "question": fields.get("question", "Question?"),
                "options": [
                    {"persistent_id": str(i), "text": text, "voter_count": 0}
                    for i, text in enumerate(options)
                ],
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": bool(fields.get("is_anonymous", True)),
                "type": fields.get("type", "regular"),
                "allows_multiple_answers": False,
                "allows_revoting": True,
                "members_only": False,
            }
        }
    raise ControlError(f"unknown message kind {kind!r}; use one of {FILE_KINDS + NON_FILE_KINDS}")


# What a user may swap for another file in an edit (Telegram's clients: not voice notes,
# video notes or stickers); an album's part stays a photo or a video.
REPLACEABLE = ("photo", "video", "animation", "audio", "document")


def _replace_media(
    state: State, user: UserRecord, msg: MessageRecord, content: Json, media: Json
) -> Json:
    old, new = content_kind(content), media["kind"]
    if old not in REPLACEABLE or new not in REPLACEABLE:
        raise ControlError(f"a {old or 'text'} message's file can't be replaced by a {new}")
    if msg.media_group_id and new not in ("photo", "video"):
        raise ControlError("an album's part can only become a photo or a video")
    kept = {k: v for k, v in content.items() if k not in (*REPLACEABLE, old)}
    fresh = media_message(state, user, new, data=media.get("data"), file_name=None,
                          mime_type=None, fields={})
    return {**kept, **fresh}


def edit(
    state: State, user: UserRecord, chat: ChatRecord, message_id: int, changes: Json
) -> MessageRecord:
    msg = chat.live_message(message_id)
    if msg is None:
        raise ControlError(f"message {message_id} not found in {chat.id}")
    if msg.sender_id != user.id or msg.service:
        raise ControlError(f"user {user.id} can't edit message {message_id}")
    content = dict(msg.content)
    if "text" in changes:
        if "text" not in content:
            raise ControlError("this message has no text (edit its caption instead)")
        content.pop("entities", None)
        content.update(text_content(changes["text"], changes.get("entities")))
    if "caption" in changes:
        if "text" in content:
            raise ControlError("a text message has no caption")
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption_content(user, changes["caption"], changes.get("caption_entities")))
    if "media" in changes:
        content = _replace_media(state, user, msg, content, changes["media"])
    if content == msg.content:
        raise ControlError("edit changes nothing (Telegram clients don't send such edits)")
    msg.content = content
    msg.edit_date = now_ts()
    fan_out(state, msg, "edited_message")
    state.notifier.notify()
    return msg


def move_live_location(
    state: State, user: UserRecord, chat: ChatRecord, message_id: int, latitude: float,
    longitude: float,
) -> MessageRecord:
    """A live location moves: Telegram sends the bot an edited_message whose text and caption
    did not change (edits are not only about text)."""
    msg = chat.live_message(message_id)
    if msg is None or msg.sender_id != user.id:
        raise ControlError(f"user {user.id} has no message {message_id} in {chat.id}")
    location = msg.content.get("location")
    if not location or "live_period" not in location:
        raise ControlError(f"message {message_id} is not a live location")
    msg.content = {**msg.content, "location": {**location, "latitude": float(latitude),
                                               "longitude": float(longitude)}}
    msg.edit_date = now_ts()
    fan_out(state, msg, "edited_message")
    state.notifier.notify()
    return msg


def set_blocked(state: State, user: UserRecord, bot: BotRecord, blocked: bool) -> None:
    chat = state.private_chat(bot.id, user.id)
    if chat.blocked == blocked:
        return
    chat.blocked = blocked
    old, new = ("member", "kicked") if blocked else ("kicked", "member")
    bot_user = bot.to_api()

    def member(status: str) -> Json:
        data: Json = {"status": status, "user": bot_user}
        if status == "kicked":
            data["until_date"] = 0
        return data

    state.enqueue_update(
        bot,
        "my_chat_member",
        {
            "chat": render_chat(state, chat),
            "from": user.to_api(),
            "date": now_ts(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        },
    )
    state.notifier.notify()


def press_button(
    state: State, user: UserRecord, chat: ChatRecord, message_id: int, data: str
) -> str:
    msg = chat.live_message(message_id)
    if msg is None:
        raise ControlError(f"message {message_id} not found in {chat.id}")
    keyboard = (msg.reply_markup or {}).get("inline_keyboard") or []
    if not any(button.get("callback_data") == data for row in keyboard for button in row):
        raise ControlError(f"message {message_id} has no button with callback_data {data!r}")
    bot = state.bots.get(msg.sender_id)
    if bot is None:
        raise ControlError("only bot messages carry callback buttons")
    query_id = state.new_callback_id()
    state.callback_queries[query_id] = {
        "bot_id": bot.id,
        "user_id": user.id,
        "data": data,
        "answered": False,
        "answer": None,
    }
    state.enqueue_update(
        bot,
        "callback_query",
        {
            "id": query_id,
            "from": user.to_api(),
            "message": render_message(state, msg, bot.id),
            "chat_instance": str(abs(hash((chat.id, bot.id)))),
            "data": data,
        },
    )
    return query_id

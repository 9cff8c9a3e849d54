"""Rendering stored messages as Bot API objects and fanning them out as updates.

Messages are rendered per *viewing bot*: file ids are bot-specific on Telegram (a file_id of
one bot is invalid for another), and the update is snapshotted when it is created, like the
real update queue.
"""

from __future__ import annotations

from typing import Any

from .state import (
    BotRecord,
    ChatRecord,
    Json,
    MemberRecord,
    MessageRecord,
    State,
    make_file_id,
    now_ts,
)


def render_chat(state: State, chat: ChatRecord) -> Json:
    if chat.type == "private":
        assert chat.user_id is not None
        user = state.users[chat.user_id]
        data: Json = {"id": user.id, "type": "private", "first_name": user.first_name}
        if user.last_name:
            data["last_name"] = user.last_name
        if user.username:
            data["username"] = user.username
        return data
    data = {"id": chat.id, "type": chat.type, "title": chat.title}
    if chat.username:
        data["username"] = chat.username
    if chat.is_forum:
        data["is_forum"] = True
    return data


def render_files(state: State, value: Any, viewer_id: int) -> Any:
    """Replace internal ``{"_file": key}`` references with this viewer's file ids."""
    if isinstance(value, list):
        return [render_files(state, item, viewer_id) for item in value]
    if not isinstance(value, dict):
        return value
    if "_file" in value:
        record = state.files[value["_file"]]
        variant = value.get("_variant", "")
        out = {k: render_files(state, v, viewer_id) for k, v in value.items() if k[0] != "_"}
        out["file_id"] = make_file_id(viewer_id, record.key, variant)
        out["file_unique_id"] = record.unique_id + variant
        out["file_size"] = len(record.data)
        return out
    return {k: render_files(state, v, viewer_id) for k, v in value.items()}


def reply_target(state: State, msg: MessageRecord) -> MessageRecord | None:
    chat = msg.chat
    target_id = msg.reply_to
    if (
        target_id is None
        and chat.is_forum
        and msg.thread_id is not None
        and msg.message_id != msg.thread_id
        and state.options.topic_root_reply
    ):
        target_id = msg.thread_id  # Telegram's "reply" to the topic's creation message
    return chat.live_message(target_id) if target_id is not None else None


def _reply_thread_root(chat: ChatRecord, msg: MessageRecord) -> int:
    root = msg.reply_to
    assert root is not None
    for _ in range(100):  # reply chains are short; the bound only guards against a cycle
        parent = chat.messages.get(root)
        if parent is None or parent.reply_to is None:
            break
        root = parent.reply_to
    return root


def render_message(
    state: State, msg: MessageRecord, viewer_id: int, *, nested: bool = True
) -> Json:
    chat = msg.chat
    data: Json = {
        "message_id": msg.message_id,
        "from": state.users[msg.sender_id].to_api(),
        "chat": render_chat(state, chat),
        "date": msg.date,
    }
    if msg.thread_id is not None:
        data["message_thread_id"] = msg.thread_id
        if chat.is_forum:
            data["is_topic_message"] = True
    elif chat.type == "supergroup" and msg.reply_to is not None:
        # Outside topics (a plain supergroup, or a forum's General topic) a reply belongs to
        # the "thread" of the message it answers: Telegram sets message_thread_id to the id of
        # that thread's first message, without is_topic_message. That id is no topic: sending
        # with it answers "message thread not found" (tdlib/telegram-bot-api#356, #447).
        data["message_thread_id"] = _reply_thread_root(chat, msg)
    if nested:
        target = reply_target(state, msg)
        if target is not None:
            # Telegram nests one level only: the replied message carries no reply of its own.
            data["reply_to_message"] = render_message(state, target, viewer_id, nested=False)
    if msg.media_group_id:
        data["media_group_id"] = msg.media_group_id
    if msg.edit_date:
        data["edit_date"] = msg.edit_date
    data.update(render_files(state, msg.content, viewer_id))
    if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
        data["reply_markup"] = msg.reply_markup
    return data


def new_message(
    chat: ChatRecord,
    sender_id: int,
    content: Json,
    *,
    thread_id: int | None = None,
    reply_to: int | None = None,
    media_group_id: str | None = None,
    reply_markup: Json | None = None,
    service: bool = False,
) -> MessageRecord:
    return MessageRecord(
        chat=chat,
        message_id=chat.allocate_message_id(),
        sender_id=sender_id,
        date=now_ts(),
        content=content,
        thread_id=thread_id,
        reply_to=reply_to,
        media_group_id=media_group_id,
        reply_markup=reply_markup,
        service=service,
    )


def publish(state: State, msg: MessageRecord) -> MessageRecord:
    msg.chat.messages[msg.message_id] = msg
    fan_out(state, msg, "message")
    state.notifier.notify()
    return msg


# A bot never receives its own messages, except these service messages: the official Bot API
# server keeps them among a bot's outgoing messages (telegram-bot-api's
# Client::need_skip_update_message), so a bot hears of every topic it creates, edits, closes.
OWN_SERVICE_KINDS = frozenset({
    "forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened",
    "general_forum_topic_hidden", "general_forum_topic_unhidden", "pinned_message",
    "new_chat_title", "new_chat_photo", "delete_chat_photo", "left_chat_member",
    "proximity_alert_triggered", "video_chat_scheduled", "video_chat_started",
    "video_chat_ended", "video_chat_participants_invited", "giveaway_created", "giveaway",
    "giveaway_winners", "giveaway_completed",
})


def _own_update(msg: MessageRecord) -> bool:
    """Whether the bot that sent ``msg`` receives it as an update too."""
    return msg.service and not OWN_SERVICE_KINDS.isdisjoint(msg.content)


def fan_out(state: State, msg: MessageRecord, kind: str) -> None:
    """Queue ``kind`` ("message"/"edited_message") for every bot that would see ``msg``."""
    chat = msg.chat
    if chat.type == "private":
        assert chat.bot_id is not None
        bot = state.bots[chat.bot_id]
        if msg.sender_id != bot.id or (kind == "message" and _own_update(msg)):
            state.enqueue_update(bot, kind, render_message(state, msg, bot.id))
        return
    for member in list(chat.members.values()):
        bot = state.bots.get(member.user_id)
        if bot is not None and bot_sees(state, bot, member, msg):
            state.enqueue_update(bot, kind, render_message(state, msg, bot.id))


def bot_sees(state: State, bot: BotRecord, member: MemberRecord, msg: MessageRecord) -> bool:
    """Group visibility rules: privacy mode, admin status and bot-to-bot communication."""
    if not member.present:
        return False
    if msg.sender_id == bot.id:
        return _own_update(msg)
    sees_everything = member.is_admin or not bot.privacy_mode
    if msg.service:
        return True
    sender = state.users[msg.sender_id]
    if sender.is_bot:
        # Bots don't see other bots unless Bot-to-Bot Communication Mode is on for one of them;
        # then commands/replies addressed to the bot pass, and everything for admin receivers.
        other = state.bots.get(sender.id)
        if not (bot.bot_to_bot or (other is not None and other.bot_to_bot)):
            return False
        if bot.bot_to_bot and sees_everything:
            return True
        return _addressed_to(state, bot, msg)
    return sees_everything or _addressed_to(state, bot, msg)


def _addressed_to(state: State, bot: BotRecord, msg: MessageRecord) -> bool:
    text = msg.content.get("text") or ""
    if text.startswith("/"):
        command = text.split()[0]
        if "@" not in command or command.split("@", 1)[1].lower() == (bot.username or "").lower():
            return True
    target = msg.chat.live_message(msg.reply_to) if msg.reply_to else None
    return target is not None and target.sender_id == bot.id

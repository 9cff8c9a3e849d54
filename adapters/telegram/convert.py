"""aiogram Message → core values. Every Telegram-specific detail the adapter needs later
(entities, file ids) rides in `Content.data`; the core never looks inside."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram.types import Message, User

from core.model import Attachment, Content, Profile

# What copyMessage reproduces faithfully. Polls, dice and games are technically copyable
# in some cases, but a copied poll is a new poll whose answers never reach the customer, so
# operators get a clear placeholder instead.
COPYABLE = {
    "text", "photo", "document", "video", "voice", "video_note", "sticker", "animation",
    "audio", "location", "contact", "venue",
}

_PLACEHOLDERS: dict[str, tuple[str, str]] = {
    "poll": ("📊", "a poll"),
    "dice": ("🎲", "a dice"),
    "game": ("🎮", "a game"),
    "story": ("📖", "a story"),
    "invoice": ("🧾", "an invoice"),
    "paid_media": ("💎", "paid media"),
    "giveaway": ("🎁", "a giveaway"),
}

# Service messages (the Bot API's "Service message: ..." fields, as aiogram 3.31 names their
# content types). They are events, not something a person wrote: never relayed either way,
# and a customer's (e.g. write_access_allowed when they let the bot write from a Web App)
# never opens a conversation.
SERVICE_TYPES = {
    "forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened",
    "general_forum_topic_hidden", "general_forum_topic_unhidden", "new_chat_members",
    "left_chat_member", "new_chat_title", "new_chat_photo", "delete_chat_photo",
    "group_chat_created", "supergroup_chat_created", "channel_chat_created", "pinned_message",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id", "migrate_from_chat_id", "video_chat_started", "video_chat_ended",
    "video_chat_scheduled", "video_chat_participants_invited", "write_access_allowed",
    "chat_shared", "users_shared", "user_shared", "boost_added", "chat_background_set",
    "connected_website", "proximity_alert_triggered", "web_app_data", "successful_payment",
    "refunded_payment", "gift", "unique_gift", "gift_upgrade_sent", "giveaway_created",
    "giveaway_completed", "checklist_tasks_done", "checklist_tasks_added",
    "paid_message_price_changed", "direct_message_price_changed", "poll_option_added",
    "poll_option_deleted", "chat_owner_changed", "chat_owner_left", "managed_bot_created",
    "suggested_post_approved", "suggested_post_approval_failed", "suggested_post_declined",
    "suggested_post_paid", "suggested_post_refunded",
}


def profile_of(user: User) -> Profile:
    return Profile(
        display_name=user.full_name or (user.username or f"user {user.id}"),
        username=user.username,
        language=user.language_code,
        link=f"tg://user?id={user.id}",
    )


def aware(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def kind_of(message: Message) -> str:
    # ContentType is a (str, Enum): str() of it is "ContentType.TEXT" on Python 3.11.
    kind = message.content_type
    return str(getattr(kind, "value", kind))


def content_of(message: Message) -> Content:
    kind = kind_of(message)
    text = message.text if message.text is not None else (message.caption or "")
    entities = message.entities if message.text is not None else message.caption_entities
    data: dict[str, Any] = {
        "has_caption": message.text is None,
        "entities": [e.model_dump(mode="json", exclude_none=True) for e in entities or []],
    }
    if kind in COPYABLE:
        return Content(content_type=kind, text=text, media_group_id=message.media_group_id,
                       data=data, attachments=_attachments(message, kind))
    icon, what = _PLACEHOLDERS.get(kind, ("❔", f"a message of a kind relaydesk can't show "
                                             f"({kind})"))
    detail = _detail(message, kind)
    return Content(content_type=kind, text=text, copyable=False, summary=f"{icon}|{what}|"
                   f"{detail}", media_group_id=message.media_group_id, data=data)


# Message kinds whose file another platform can take, as the core's attachment kinds.
_FILE_KINDS = {
    "photo": "photo", "document": "document", "voice": "voice", "sticker": "sticker",
    "video": "video", "audio": "audio", "animation": "animation", "video_note": "video",
}


def _attachments(message: Message, kind: str) -> tuple[Attachment, ...]:
    """The file of a media message, fetchable by file_id (see `TelegramFiles`)."""
    core_kind = _FILE_KINDS.get(kind)
    if core_kind is None:
        return ()
    media: Any = message.photo[-1] if kind == "photo" and message.photo else getattr(
        message, kind, None)
    if media is None:
        return ()
    name = getattr(media, "file_name", None)
    if name is None:
        name = {"photo": "photo.jpg", "voice": "voice.ogg", "sticker": "sticker.webp",
                "video_note": "video.mp4"}.get(kind)
    return (Attachment(core_kind, "telegram", media.file_id, name,
                       getattr(media, "mime_type", None), key=media.file_unique_id),)


def _detail(message: Message, kind: str) -> str:
    if kind == "poll" and message.poll is not None:
        options = " / ".join(o.text for o in message.poll.options)
        return f"{message.poll.question} [{options}]"
    if kind == "dice" and message.dice is not None:
        return f"{message.dice.emoji} = {message.dice.value}"
    if kind == "game" and message.game is not None:
        return message.game.title
    return ""


def edited_at(message: Message) -> datetime:
    if message.edit_date:
        return datetime.fromtimestamp(message.edit_date, UTC)
    return aware(message.date)

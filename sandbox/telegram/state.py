"""In-memory world of the emulator: users, bots, chats, topics, messages, files, updates.

Everything is plain dataclasses mutated from the event loop thread only (the aiohttp handlers
and the test's control calls share one loop), so no locking is needed. ``Notifier`` wakes
long polls and ``wait_for`` on every change.
"""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from ..common.notifier import Notifier
from .errors import bad_request

Json = dict[str, Any]

# Telegram's default for getUpdates when allowed_updates was never given.
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "my_chat_member",
        "inline_query",
        "chosen_inline_result",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "chat_join_request",
        "business_message",
    }
)
ADMIN_STATUSES = frozenset({"creator", "administrator"})
PRESENT_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})


def now_ts() -> int:
    return int(time.time())


@dataclass
class Options:
    """Behaviour switches; defaults are the strict/realistic choice."""

    # Reject a bare "&" in HTML (TDLib keeps it literally; strict catches unescaped text).
    strict_html_ampersand: bool = True
    # Admins with can_manage_topics may post into closed topics (unverified for bots).
    closed_topic_admin_bypass: bool = False
    # Topic messages that reply to nothing carry reply_to_message = the topic's creation
    # service message, as Telegram does. Code reading reply_to_message must cope.
    topic_root_reply: bool = True
    # Telegram pushes webhooks to HTTPS only; tests on 127.0.0.1 turn this on.
    webhook_allow_http: bool = False
    # How long a webhook update that was not answered 200 waits before it is pushed again
    # (Telegram waits longer and longer; tests want it short).
    webhook_retry_delay: float = 0.2


@dataclass
class UserRecord:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    is_premium: bool = False
    # The user's privacy setting "forwarded messages: nobody" (forward_origin = hidden_user).
    hide_forwards: bool = False

    def to_api(self) -> Json:
        data: Json = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.is_premium:
            data["is_premium"] = True
        return data

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass
class BotRecord(UserRecord):
    token: str = ""
    # BotFather's "Bot-to-Bot Communication Mode"; off means bots never see each other.
    bot_to_bot: bool = False
    privacy_mode: bool = True
    updates: list[Json] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
    commands: dict[str, list[Json]] = field(default_factory=dict)
    # Bumped by every getUpdates; an older waiting call sees the change and answers 409.
    poll_generation: int = 0
    # setWebhook's URL: while set, getUpdates answers 409 and updates are POSTed there
    # (sandbox/telegram/webhooks.py) with the secret header, until answered 200.
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_max_connections: int = 40
    # (update_id, HTTP status or 0 for a failed connection) of every push, in order.
    webhook_pushes: list[tuple[int, int]] = field(default_factory=list)
    webhook_last_error: str = ""


@dataclass
class MemberRecord:
    user_id: int
    status: str  # creator | administrator | member | restricted | left | kicked
    can_manage_topics: bool = False

    @property
    def is_admin(self) -> bool:
        return self.status in ADMIN_STATUSES

    @property
    def present(self) -> bool:
        return self.status in PRESENT_STATUSES


@dataclass
class TopicRecord:
    thread_id: int
    name: str
    icon_color: int
    creator_id: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False

    def to_api(self) -> Json:
        data: Json = {
            "message_thread_id": self.thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            data["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return data


@dataclass
class MessageRecord:
    chat: ChatRecord
    message_id: int
    sender_id: int
    date: int
    # Telegram message fields (text/entities/caption/photo/...); files are {"_file": key}.
    content: Json
    thread_id: int | None = None
    reply_to: int | None = None
    media_group_id: str | None = None
    reply_markup: Json | None = None
    edit_date: int | None = None
    deleted: bool = False
    service: bool = False


@dataclass
class ChatRecord:
    id: int
    type: str  # private | supergroup
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    # Private chats exist per (bot, user): both sides see chat id == user id.
    bot_id: int | None = None
    user_id: int | None = None
    started: bool = False
    blocked: bool = False
    members: dict[int, MemberRecord] = field(default_factory=dict)
    topics: dict[int, TopicRecord] = field(default_factory=dict)
    messages: dict[int, MessageRecord] = field(default_factory=dict)
    next_message_id: int = 1

    def allocate_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def live_message(self, message_id: int) -> MessageRecord | None:
        msg = self.messages.get(message_id)
        return None if msg is None or msg.deleted else msg


@dataclass
class FileRecord:
    key: int
    kind: str
    data: bytes
    file_path: str
    unique_id: str
    file_name: str | None = None
    mime_type: str | None = None


_FILE_ID_PREFIX = "BQACAgIAAxk"  # cosmetic: real file ids are opaque base64url blobs


def make_file_id(bot_id: int, key: int, variant: str = "") -> str:
    raw = f"{bot_id}:{key}:{variant}".encode()
    return _FILE_ID_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_file_id(file_id: str) -> tuple[int, int, str] | None:
    if not file_id.startswith(_FILE_ID_PREFIX):
        return None
    blob = file_id.removeprefix(_FILE_ID_PREFIX)
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)).decode()
        bot_id, key, variant = raw.split(":", 2)
        return int(bot_id), int(key), variant
    except ValueError:
        return None


_FOLDERS = {
    "photo": ("photos", ".jpg"),
    "video": ("videos", ".mp4"),
    "animation": ("animations", ".mp4"),
    "voice": ("voice", ".oga"),
    "video_note": ("video_notes", ".mp4"),
    "sticker": ("stickers", ".webp"),
    "audio": ("music", ".mp3"),
    "document": ("documents", ""),
}


class State:
    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()
        self.users: dict[int, UserRecord] = {}
        self.bots: dict[int, BotRecord] = {}
        self.bots_by_token: dict[str, BotRecord] = {}
        self.groups: dict[int, ChatRecord] = {}
        self.privates: dict[tuple[int, int], ChatRecord] = {}
        self.files: dict[int, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.callback_queries: dict[str, Json] = {}
        self.notifier = Notifier()
        self.closing = False
        self._user_ids = itertools.count(700_000_001)
        self._group_ids = itertools.count(1_000_000_001)
        self._file_keys = itertools.count(1)
        self._media_groups = itertools.count(13_000_000_000_000_001)
        self._callback_ids = itertools.count(4_000_000_000_001)

    # ---- identities -------------------------------------------------------------------
    def next_user_id(self) -> int:
        return next(self._user_ids)

    def next_group_id(self) -> int:
        return -(1_000_000_000_000 + next(self._group_ids))

    def new_media_group_id(self) -> str:
        return str(next(self._media_groups))

    def new_callback_id(self) -> str:
        return str(next(self._callback_ids))

    def user(self, user_id: int) -> UserRecord:
        return self.users[user_id]

    # ---- chats ------------------------------------------------------------------------
    def private_chat(self, bot_id: int, user_id: int) -> ChatRecord:
        key = (bot_id, user_id)
        chat = self.privates.get(key)
        if chat is None:
            chat = ChatRecord(id=user_id, type="private", bot_id=bot_id, user_id=user_id)
            self.privates[key] = chat
        return chat

    def chat_for_bot(self, bot: BotRecord, chat_id: int | str) -> ChatRecord:
        """Resolve a chat_id from a bot's point of view (private ids are per bot)."""
        if isinstance(chat_id, str):
            wanted = chat_id.removeprefix("@").lower()
            for group in self.groups.values():
                if group.username and group.username.lower() == wanted:
                    return group
            raise bad_request("chat not found")
        if chat_id > 0:
            if chat_id not in self.users:
                raise bad_request("chat not found")
            return self.private_chat(bot.id, chat_id)
        group = self.groups.get(chat_id)
        if group is None:
            raise bad_request("chat not found")
        return group

    # ---- files ------------------------------------------------------------------------
    def store_file(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FileRecord:
        key = next(self._file_keys)
        folder, default_ext = _FOLDERS.get(kind, ("documents", ""))
        ext = default_ext
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        record = FileRecord(
            key=key,
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{key}{ext}",
            unique_id=f"AgAD{key:06d}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[key] = record
        self.files_by_path[record.file_path] = record
        return record

    def file_by_id(self, bot: BotRecord, file_id: str) -> tuple[FileRecord, str]:
        """Look a file_id up for ``bot``; file ids of other bots are invalid, as on Telegram."""
        parsed = parse_file_id(file_id)
        if parsed is None or parsed[0] != bot.id or parsed[1] not in self.files:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return self.files[parsed[1]], parsed[2]

    # ---- updates ----------------------------------------------------------------------
    def enqueue_update(self, bot: BotRecord, kind: str, payload: Json) -> None:
        # allowed_updates filters at creation time, like Telegram.
        if kind not in bot.allowed_updates:
            return
        bot.updates.append({"update_id": bot.next_update_id, kind: payload})
        bot.next_update_id += 1
        self.notifier.notify()

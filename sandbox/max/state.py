"""The MAX emulator's world: bots, users, dialogs, messages, the update stream, uploads."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..common.notifier import Notifier

Json = dict[str, Any]


class MaxError(Exception):
    """An API error answer: HTTP `status` with ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> Json:
        return {"code": self.code, "message": self.message}


class ControlError(Exception):
    """A test asked the emulator for something no MAX user could do."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Options:
    """Behaviour switches, changeable live."""

    text_limit: int = 4000
    # How long an uploaded file stays "not processed" (attachment.not.ready) after its POST.
    attachment_ready_after: float = 0.0
    # Seconds between webhook retries (MAX: 60 s, then ×2.5); tests shrink them.
    webhook_retry_delays: tuple[float, ...] = (60.0, 150.0, 375.0, 937.5, 2343.75)
    webhook_timeout: float = 30.0
    default_poll_timeout: float = 30.0


@dataclass
class UserRecord:
    user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    is_bot: bool = False

    def to_api(self) -> Json:
        return {"user_id": self.user_id, "first_name": self.first_name,
                "last_name": self.last_name, "username": self.username,
                "is_bot": self.is_bot, "last_activity_time": now_ms()}


@dataclass
class Upload:
    """One upload slot (`POST /uploads`): its type, the token MAX hands out, the file."""

    slot: str
    type: str
    token: str
    data: bytes | None = None
    filename: str | None = None
    posted_at: float = 0.0


@dataclass
class Dialog:
    chat_id: int
    user_id: int
    stopped: bool = False
    messages: list[str] = field(default_factory=list)  # mids in order


@dataclass
class Webhook:
    url: str
    secret: str | None
    update_types: list[str] | None
    time: int


@dataclass
class BotRecord:
    user: UserRecord
    token: str
    updates: list[tuple[int, Json]] = field(default_factory=list)  # (marker, update)
    dialogs: dict[int, Dialog] = field(default_factory=dict)  # by user id
    webhook: Webhook | None = None
    answers: list[Json] = field(default_factory=list)  # POST /answers bodies
    groups: set[int] = field(default_factory=set)


class State:
    def __init__(self) -> None:
        self.notifier = Notifier()
        self.closing = False
        self.base_url = ""
        self.options = Options()
        self.bots: dict[str, BotRecord] = {}  # by token
        self.users: dict[int, UserRecord] = {}
        self.messages: dict[str, Json] = {}  # mid -> Message object (as the API shows it)
        self.deleted: set[str] = set()
        self.uploads: dict[str, Upload] = {}  # by slot
        self.upload_tokens: dict[str, Upload] = {}  # by token
        self.files: dict[str, bytes] = {}  # /files/{key}
        self.callbacks: dict[str, tuple[BotRecord, Json]] = {}  # callback_id -> (bot, update)
        self.user_ids: Iterator[int] = itertools.count(229_229_229)
        self.chat_ids: Iterator[int] = itertools.count(182_182_182)
        # Markers and seqs are large int64s (above 2**53): a client keeping them as floats
        # loses updates.
        self.next_marker = 9_007_199_254_740_993_123
        self.seqs: Iterator[int] = itertools.count(116_327_994_376_978_687)

    def new_mid(self) -> str:
        return f"mid.{secrets.token_hex(16)}"

    def dialog(self, bot: BotRecord, user_id: int) -> Dialog:
        if user_id not in bot.dialogs:
            bot.dialogs[user_id] = Dialog(next(self.chat_ids), user_id)
        return bot.dialogs[user_id]

    def dialog_by_chat(self, bot: BotRecord, chat_id: int) -> Dialog | None:
        return next((d for d in bot.dialogs.values() if d.chat_id == chat_id), None)

    def push(self, bot: BotRecord, update: Json) -> None:
        update.setdefault("timestamp", now_ms())
        bot.updates.append((self.next_marker, update))
        self.next_marker += 1
        self.notifier.notify()

    def file_url(self, data: bytes) -> str:
        key = secrets.token_hex(12)
        self.files[key] = data
        return f"{self.base_url}/files/{key}"

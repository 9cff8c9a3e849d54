"""In-memory world of the VK emulator: users, communities, conversations, messages, media,
long-poll event histories.

Plain dataclasses mutated from the event loop thread only (aiohttp handlers and the test's
control calls share one loop). ``Notifier`` wakes long polls and ``wait_for`` on every change.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..common.notifier import Notifier

Json = dict[str, Any]
API_VERSION = "5.199"


def now_ts() -> int:
    return int(time.time())


def random_key(length: int = 18) -> str:
    return secrets.token_hex(length)[:length]


@dataclass
class UserRecord:
    id: int
    first_name: str
    last_name: str
    screen_name: str
    lang_id: int = 0  # client_info.lang_id (0 = Russian)
    sex: int = 0  # 0 unknown, 1 female, 2 male
    deactivated: str | None = None  # "deleted" | "banned"
    is_closed: bool = False  # closed profile
    # Privacy "who can message me" excludes communities: sends answer 902.
    privacy_closed: bool = False


@dataclass
class MessageRecord:
    id: int  # community-wide message id
    cmid: int  # conversation_message_id
    peer_id: int
    from_id: int
    date: int
    text: str
    attachments: list[Json] = field(default_factory=list)
    fwd_messages: list[Json] = field(default_factory=list)
    reply_message: Json | None = None
    random_id: int = 0
    admin_author_id: int | None = None
    keyboard: Json | None = None
    payload: str | None = None
    update_time: int | None = None
    deleted: bool = False

    @property
    def out(self) -> int:
        return 1 if self.from_id < 0 else 0

    def to_api(self) -> Json:
        data: Json = {
            "date": self.date,
            "from_id": self.from_id,
            "id": self.id,
            "out": self.out,
            "version": self.update_time or self.date,
            "attachments": list(self.attachments),
            "conversation_message_id": self.cmid,
            "fwd_messages": list(self.fwd_messages),
            "important": False,
            "is_hidden": False,
            "peer_id": self.peer_id,
            "random_id": self.random_id,
            "text": self.text,
        }
        if self.reply_message is not None:
            data["reply_message"] = self.reply_message
        if self.admin_author_id is not None:
            data["admin_author_id"] = self.admin_author_id
        if self.keyboard is not None:
            data["keyboard"] = self.keyboard
        if self.payload is not None:
            data["payload"] = self.payload
        if self.update_time is not None:
            data["update_time"] = self.update_time
        return data

    def to_quoted(self) -> Json:
        """The shape used inside ``reply_message`` / ``fwd_messages``."""
        data = self.to_api()
        for key in ("out", "version", "important", "is_hidden", "random_id", "keyboard"):
            data.pop(key, None)
        return data


@dataclass
class Conversation:
    peer_id: int
    messages: dict[int, MessageRecord] = field(default_factory=dict)  # by message id
    next_cmid: int = 1
    # None: the user never wrote nor allowed; True: may receive; False: denied messages.
    allowed: bool | None = None
    blacklisted: bool = False  # the community banned the user: sends answer 900

    def by_cmid(self, cmid: int) -> MessageRecord | None:
        return next((m for m in self.messages.values() if m.cmid == cmid), None)


@dataclass
class LongPollState:
    # key -> "ok" | "expired" (answer failed 2) | "lost" (answer failed 3)
    keys: dict[str, str] = field(default_factory=dict)
    history: deque[tuple[int, Json]] = field(default_factory=deque)  # (ts, event)
    next_ts: int = 1
    history_limit: int = 1000

    def oldest_ts(self) -> int:
        return self.history[0][0] if self.history else self.next_ts

    def push(self, event: Json) -> None:
        self.history.append((self.next_ts, event))
        self.next_ts += 1
        while len(self.history) > self.history_limit:
            self.history.popleft()


@dataclass
class CallbackServer:
    """A Callback API server registered for a community (see callback.py)."""

    url: str
    secret: str | None = None
    confirmed: bool = False  # answered the confirmation string: events are sent
    pending: deque[Json] = field(default_factory=deque)  # events not answered "ok" yet
    # every attempt: {"event_id", "type", "attempt", "status", "answer", "lost"}
    attempts: list[Json] = field(default_factory=list)
    given_up: list[Json] = field(default_factory=list)  # events dropped after every retry


@dataclass
class Community:
    id: int  # positive; the community's peer id is -id
    name: str
    screen_name: str
    token: str
    admin_id: int = 0  # the user who answers in the web inbox by default
    bot_capabilities: bool = True  # needed for callback buttons (error 912 otherwise)
    conversations: dict[int, Conversation] = field(default_factory=dict)
    next_message_id: int = 1
    # (peer_id, random_id) -> (message id, time.monotonic() when first sent)
    random_ids: dict[tuple[int, int], tuple[int, float]] = field(default_factory=dict)
    longpoll: LongPollState = field(default_factory=LongPollState)
    # message_event event_id -> {"user_id", "peer_id", "payload", "time", "answer"}
    button_events: dict[str, Json] = field(default_factory=dict)
    # The string a Callback API server must answer the confirmation request with.
    confirmation_code: str = field(default_factory=lambda: random_key(8))
    callback: CallbackServer | None = None

    def conversation(self, peer_id: int) -> Conversation:
        return self.conversations.setdefault(peer_id, Conversation(peer_id))

    def find_message(self, message_id: int) -> MessageRecord | None:
        for conv in self.conversations.values():
            msg = conv.messages.get(message_id)
            if msg is not None:
                return msg
        return None

    def to_api(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "screen_name": self.screen_name,
            "is_closed": 0,
            "type": "group",
            "photo_50": f"https://sun.userapi.example/c{self.id}/50.png",
            "photo_100": f"https://sun.userapi.example/c{self.id}/100.png",
            "photo_200": f"https://sun.userapi.example/c{self.id}/200.png",
        }


@dataclass
class Blob:
    key: str
    data: bytes
    content_type: str
    name: str


@dataclass
class PhotoRecord:
    id: int
    owner_id: int
    access_key: str
    blob: str
    width: int
    height: int
    date: int


@dataclass
class DocRecord:
    id: int
    owner_id: int
    access_key: str
    blob: str
    title: str
    ext: str
    date: int
    kind: str = "doc"  # "doc" | "audio_message"
    duration: int = 1


@dataclass
class UploadSlot:
    """An upload_url handed out by *.getMessagesUploadServer."""

    kind: str  # "photo" | "doc" | "audio_message"
    community_id: int
    peer_id: int


@dataclass
class Options:
    """Behaviour switches, changeable at any time (``emu.options``)."""

    # messages.send/edit text limit -> error 914. Older docs say 4096, newer 9000
    # (unverified which VK enforces): the lower one by default, so a client that splits at
    # 4096 passes either way.
    text_limit: int = 4096
    random_id_ttl: float = 3600.0  # seconds a (peer, random_id) pair stays deduplicated
    event_answer_ttl: float = 60.0  # sendMessageEventAnswer accepted this long after a press
    longpoll_default_wait: float = 25.0  # a_check without ``wait`` (unverified)
    longpoll_max_wait: float = 90.0
    # Whether messages sent through the API carry the token owner's admin id in
    # admin_author_id, like those typed in the web inbox (unverified): on, a client can only
    # tell its own sends from an admin's by their random_id.
    admin_author_on_api_sends: bool = False
    # Callback API: pauses before each retry of an event not answered "ok" (VK's schedule is
    # unverified: it retries a few times, then drops the event), and how long it waits.
    callback_retry_delays: tuple[float, ...] = (1.0, 5.0, 15.0, 30.0, 60.0)
    callback_timeout: float = 25.0


@dataclass
class State:
    options: Options = field(default_factory=Options)
    users: dict[int, UserRecord] = field(default_factory=dict)
    communities: dict[int, Community] = field(default_factory=dict)
    by_token: dict[str, Community] = field(default_factory=dict)
    blobs: dict[str, Blob] = field(default_factory=dict)
    photos: dict[tuple[int, int], PhotoRecord] = field(default_factory=dict)
    docs: dict[tuple[int, int], DocRecord] = field(default_factory=dict)
    upload_slots: dict[str, UploadSlot] = field(default_factory=dict)
    # what an upload POST answered, awaiting save: upload token -> (slot, blob key)
    uploaded: dict[str, tuple[UploadSlot, str]] = field(default_factory=dict)
    notifier: Notifier = field(default_factory=Notifier)
    base_url: str = ""
    closing: bool = False
    user_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100000001))
    group_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(200000001))
    media_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(457239017))
    blob_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_blob(self, data: bytes, content_type: str, name: str) -> Blob:
        key = f"{next(self.blob_ids)}{random_key(8)}"
        blob = Blob(key, data, content_type, name)
        self.blobs[key] = blob
        return blob

    def file_url(self, blob_key: str, suffix: str = "") -> str:
        return f"{self.base_url}/files/{blob_key}{suffix}"

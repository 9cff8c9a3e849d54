"""The web channel, outgoing: `WebChannel` implements the core's ChannelPort.

A "send" stores the message as an event of the visitor's page (idempotent on the delivery
id, so a retried delivery never shows twice) and wakes that visitor's sockets; a visitor who
is offline reads it when the page comes back. `WebClosings` tells the page a conversation
was closed, in the unit that closed it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from core.clock import Clock
from core.lifecycle import Closure, LifecycleListener
from core.model import (
    Attachment,
    Choice,
    Conversation,
    Message,
    MessageKind,
    Outgoing,
)
from core.ports import CustomerStore, RateKey
from core.unit import Unit

from .hub import Hub
from .ports import EventKind, WebStore

CHANNEL = "web"
_TAG = re.compile(r"<[^>]+>")


def html_to_text(text: str) -> str:
    """A bot-authored HTML text as the plain text the page shows."""
    return html.unescape(_TAG.sub("", text.replace("<br>", "\n")))


def plain_text(message: Message) -> str:
    """What a visitor reads for a core message (the page shows text, never markup)."""
    content = message.content
    text = html_to_text(content.text) if content.data.get("html") else content.text
    if not content.copyable and content.summary:
        icon, what, detail = (content.summary.split("|", 2) + ["", ""])[:3]
        line = f"{icon} {what}" + (f": {detail}" if detail else "")
        return f"{text}\n{line}" if text else line
    return text


# What a file is shown as when its platform names no type (Telegram photos are JPEG).
_DEFAULT_MIME = {"photo": "image/jpeg", "sticker": "image/webp"}


def _file(attachment: Attachment) -> dict[str, Any]:
    return {"kind": attachment.kind, "name": attachment.name or attachment.kind,
            "mime": attachment.mime or _DEFAULT_MIME.get(attachment.kind),
            "platform": attachment.platform, "ref": attachment.ref}


def file_of(body: dict[str, Any], index: int) -> Attachment | None:
    """The attachment `index` of an event's body, as the core knows it."""
    files = body.get("files") or []
    if not 0 <= index < len(files):
        return None
    item = files[index]
    return Attachment(str(item["kind"]), str(item["platform"]), str(item["ref"]),
                      item.get("name"), item.get("mime"))


class WebChannel:
    name = CHANNEL
    platform = CHANNEL

    def __init__(self, store: WebStore, hub: Hub, clock: Clock) -> None:
        self._store = store
        self._hub = hub
        self._clock = clock

    def rate_keys(self, chat_id: str) -> Sequence[RateKey]:
        return ()  # our own page: nothing to be polite to

    def max_batch(self) -> int:
        return 1

    def can_batch(self, first: Outgoing, nxt: Outgoing) -> bool:
        return False

    def sends_for(self, items: Sequence[Outgoing]) -> int:
        return len(items)

    async def _add(self, visitor: str, kind: EventKind, body: dict[str, Any],
                   ref: str | None) -> int:
        event_id, new = await self._store.add_event(visitor, kind, body, ref,
                                                    self._clock.now())
        if new:
            self._hub.wake(visitor)
        return event_id

    async def send(self, chat_id: str, items: Sequence[Outgoing]) -> list[str]:
        ids = []
        for item in items:
            message = item.message
            kind = EventKind.BOT if message.kind in (MessageKind.BOT, MessageKind.SYSTEM) \
                else EventKind.OPERATOR
            body: dict[str, Any] = {"name": message.author_name or "", "text":
                                    plain_text(message),
                                    "files": [_file(a) for a in message.content.attachments]}
            if item.reply_to and item.reply_to.isdigit():
                body["reply_to"] = int(item.reply_to)
            ref = f"d:{item.key}" if item.key else None
            ids.append(str(await self._add(chat_id, kind, body, ref)))
        return ids

    async def send_text(self, chat_id: str, text: str, key: int = 0,
                        choices: Sequence[Sequence[Choice]] = ()) -> str:
        body: dict[str, Any] = {"text": html_to_text(text), "choices": [
            [{"label": c.label, "payload": c.payload} for c in row] for row in choices if row]}
        return str(await self._add(chat_id, EventKind.BOT, body,
                                   f"t:{key}" if key else None))

    async def edit(self, chat_id: str, platform_message_id: str, message: Message,
                   reply_to: str | None) -> str | None:
        if platform_message_id.isdigit():
            await self._add(chat_id, EventKind.EDIT, {"target": int(platform_message_id),
                                                      "text": plain_text(message)}, None)
        return None


@dataclass(frozen=True, slots=True)
class PageContext:
    """What the page tells about itself (shown on the card); all visitor-supplied."""

    page: str | None = None
    referrer: str | None = None
    language: str | None = None
    utc_offset: int | None = None  # minutes east of UTC, as the browser says
    name: str | None = None  # the name the visitor gave (the site's data-name)

    @classmethod
    def read(cls, data: dict[str, Any]) -> PageContext:
        offset, lang, name = data.get("utc_offset"), data.get("lang"), data.get("name")
        return cls(_url(data.get("page")), _url(data.get("referrer")),
                   lang[:16] if isinstance(lang, str) and lang else None,
                   offset if isinstance(offset, int) and -900 <= offset <= 900 else None,
                   " ".join(name.split())[:64] or None if isinstance(name, str) else None)

    def as_body(self) -> dict[str, Any]:
        return {"page": self.page, "referrer": self.referrer, "lang": self.language,
                "utc_offset": self.utc_offset, "name": self.name}

    def lines(self, now: datetime) -> list[str]:
        """The visitor's details for the card, as plain text (the card escapes them)."""
        lines = []
        if self.page:
            lines.append(f"Page: {self.page[:300]}")
        if self.referrer:
            lines.append(f"Came from: {self.referrer[:300]}")
        if self.language:
            lines.append(f"Browser language: {self.language}")
        if self.utc_offset is not None:
            local = now.astimezone(timezone(timedelta(minutes=self.utc_offset)))
            lines.append(f"Local time: {local:%H:%M} (UTC{local:%z})")
        return lines


def _url(value: object) -> str | None:
    """An http(s) address, cut; anything else (javascript:, data:) is dropped."""
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        return None
    return value[:500]


class WebClosings(LifecycleListener):
    """A web conversation closed: its page shows it closed (stored in the closing unit,
    the sockets woken once it committed)."""

    def __init__(self, customers: CustomerStore, store: WebStore, hub: Hub) -> None:
        self._customers = customers
        self._store = store
        self._hub = hub

    async def _visitor(self, conversation: Conversation) -> str | None:
        identity = await self._customers.get_identity(conversation.reply_identity_id)
        return identity.chat_id if identity.channel == CHANNEL else None

    async def closed(self, unit: Unit, conversation: Conversation, closure: Closure) -> None:
        visitor = await self._visitor(conversation)
        if visitor is None:
            return
        await self._store.add_event(visitor, EventKind.CLOSED, {"conversation": conversation.id},
                                    f"x:{conversation.id}:{unit.now.timestamp()}", unit.now)
        unit.after_commit.append(lambda: self._hub.wake(visitor))


class WebFiles:
    """The `FileSource` of the web channel: the files visitors uploaded."""

    platform = CHANNEL

    def __init__(self, store: WebStore) -> None:
        self._store = store

    async def fetch(self, ref: str) -> bytes:
        found = await self._store.get_file(int(ref))
        if found is None:
            raise LookupError(f"web upload {ref} not found")
        return found[3]

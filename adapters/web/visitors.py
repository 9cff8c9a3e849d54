"""What a visitor can do, whatever the transport (WebSocket or HTTP): open a session, say
something (with a file), press a button, read their events, fetch a file of theirs.

Every call names the visitor by the id their signed token proved; nothing here takes an id
of another visitor's event or file on trust: what is not the visitor's is "not found".
"""

from __future__ import annotations

import re
from typing import Any

from core.clock import Clock
from core.files import Files
from core.intake.service import IntakeService
from core.model import Attachment, Content, InboundCustomerMessage, InboundPress, Profile
from core.presses import Presses

from .channel import CHANNEL, PageContext, file_of
from .details import WebDetails
from .hub import Hub
from .ports import Event, EventKind, WebStore
from .tokens import VisitorTokens, visitor_number

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
PAGE_LIMIT = 200  # events per read


class WebError(Exception):
    """A request refused, with its HTTP status and a code the page understands."""

    def __init__(self, status: int, code: str, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


def view(event: Event) -> dict[str, Any]:
    """An event as the page gets it: file handles of other platforms stay on the server."""
    event_id, kind, body = event
    shown = {k: v for k, v in body.items() if k != "files"}
    if body.get("files"):
        shown["files"] = [{"kind": f["kind"], "name": f.get("name"), "mime": f.get("mime"),
                           "url": f"files/{event_id}/{i}"}
                          for i, f in enumerate(body["files"])]
    return {"id": event_id, "kind": kind, **shown}


class WebVisitors:
    def __init__(self, store: WebStore, intake: IntakeService, presses: Presses, files: Files,
                 tokens: VisitorTokens, hub: Hub, clock: Clock, details: WebDetails, *,
                 max_text: int) -> None:
        self._store = store
        self._intake = intake
        self._presses = presses
        self._files = files
        self.tokens = tokens
        self._hub = hub
        self._clock = clock
        self._max_text = max_text
        self._details = details

    def session(self, token: object) -> tuple[str, str]:
        """The visitor of a valid token, else a new one: (visitor, token)."""
        visitor = self.tokens.visitor_of(token)
        if visitor is not None:
            return visitor, str(token)
        return self.tokens.issue()

    async def say(self, visitor: str, data: dict[str, Any], context: PageContext) -> int:
        """A visitor's message: committed by intake (a resent client id is dropped there),
        then shown on the visitor's pages; the event id acknowledges it."""
        client_id, text = data.get("client_id"), data.get("text", "")
        if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
            raise WebError(400, "bad_client_id", "client_id: 8-64 letters, digits, - or _")
        if not isinstance(text, str) or len(text) > self._max_text:
            raise WebError(413, "too_long", f"text: at most {self._max_text} characters")
        files = await self._attached(visitor, data.get("file"))
        if not text.strip() and not files:
            raise WebError(400, "empty", "write something or attach a file")
        now = self._clock.now()
        number = visitor_number(visitor)
        kind = files[0].kind if files else "text"
        await self._details.remember(visitor, context, now)  # before intake: for the card
        await self._intake.relay_customer_to_desk(InboundCustomerMessage(
            channel=CHANNEL, user_id=visitor, chat_id=visitor, message_id=f"c:{client_id}",
            profile=Profile(context.name or f"Visitor {number}", None, context.language,
                            context.page),
            content=Content(kind, text, attachments=tuple(files)), sent_at=now))
        body = {"text": text, "client_id": client_id,
                "files": [{"kind": f.kind, "name": f.name, "mime": f.mime,
                           "platform": f.platform, "ref": f.ref} for f in files]}
        event_id, new = await self._store.add_event(visitor, EventKind.VISITOR, body,
                                                    f"c:{client_id}", now)
        if new:
            self._hub.wake(visitor)
        return event_id

    async def _attached(self, visitor: str, file_id: object) -> list[Attachment]:
        if file_id is None:
            return []
        found = await self._store.get_file(file_id) if isinstance(file_id, int) else None
        if found is None or found[0] != visitor:
            raise WebError(404, "no_such_file", "file: not found")
        _, name, mime, _ = found
        kind = "photo" if mime.startswith("image/") else "document"
        return [Attachment(kind, CHANNEL, str(file_id), name, mime)]

    async def upload(self, visitor: str, name: str, mime: str, data: bytes) -> int:
        return await self._store.add_file(visitor, name, mime, data, self._clock.now())

    async def press(self, visitor: str, data: dict[str, Any]) -> str:
        """A button of one of the bot's messages to this visitor; the answer to show."""
        event_id, payload = data.get("event"), data.get("payload")
        event = await self._store.get_event(visitor, event_id) \
            if isinstance(event_id, int) else None
        choices = [c["payload"] for row in (event[2].get("choices") or []) for c in row] \
            if event is not None and event[1] == EventKind.BOT else []
        if not isinstance(payload, str) or payload not in choices:
            raise WebError(404, "no_such_button", "that button is not yours or is gone")
        return await self._presses.press(InboundPress(CHANNEL, visitor, visitor, payload,
                                                      str(event_id)))

    async def events(self, visitor: str, after: int) -> list[dict[str, Any]]:
        return [view(e) for e in await self._store.events_after(visitor, after, PAGE_LIMIT)
                if e[1] != EventKind.DETAILS]

    async def file(self, visitor: str, event_id: int, index: int) -> tuple[str, str, bytes]:
        """(name, mime, bytes) of a file shown in one of the visitor's events."""
        event = await self._store.get_event(visitor, event_id)
        attachment = file_of(event[2], index) if event is not None else None
        if attachment is None:
            raise WebError(404, "no_such_file", "file: not found")
        data = await self._files.fetch(attachment)
        return attachment.name or "file", attachment.mime or "application/octet-stream", data

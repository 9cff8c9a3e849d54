"""Attachments of a sent message: uploaded files (by token, ready or not yet), images by URL,
inline keyboards within MAX's limits."""

from __future__ import annotations

import time
from typing import Any

from .state import Json, MaxError, State

SINGLE = frozenset({"file", "audio", "sticker", "contact"})  # must be a message's only one
MAX_ROWS, MAX_PER_ROW, MAX_BUTTONS, MAX_PER_ROW_WIDE = 30, 7, 210, 3
WIDE = frozenset({"link", "open_app", "request_geo_location", "request_contact"})
BUTTONS = frozenset({"callback", "link", "request_contact", "request_geo_location",
                     "open_app", "message", "clipboard", "chat"})


def _bad(message: str) -> MaxError:
    return MaxError(400, "proto.payload", message)


def check_attachments(state: State, raw: Any) -> list[Json]:
    """The attachments as the message will show them; raises for what MAX refuses."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad("attachments: must be a list")
    shown = [_attachment(state, item) for item in raw]
    if len(shown) > 1 and any(a["type"] in SINGLE for a in shown):
        raise _bad("Must be only one file attachment in message")
    return shown


def _attachment(state: State, item: Any) -> Json:
    if not isinstance(item, dict) or not isinstance(item.get("payload"), dict):
        raise _bad("attachment: type and payload required")
    kind, payload = item.get("type"), item["payload"]
    if kind == "inline_keyboard":
        check_keyboard(payload)
        return {"type": kind, "payload": payload}
    if kind == "image" and payload.get("url"):
        return {"type": "image", "payload": {"url": payload["url"], "photo_id": 0}}
    token = payload.get("token")
    if kind == "image" and isinstance(payload.get("photos"), dict):
        token = next((p.get("token") for p in payload["photos"].values()), None)
    upload = state.upload_tokens.get(str(token))
    if kind not in ("image", "video", "audio", "file") or upload is None \
            or upload.type != kind or upload.data is None:
        raise _bad(f"attachment: unknown {kind} token")
    if time.monotonic() < upload.posted_at + state.options.attachment_ready_after:
        raise MaxError(400, "attachment.not.ready",
                       "Key: errors.process.attachment.file.not.processed")
    url = state.file_url(upload.data)
    shown: Json = {"type": kind, "payload": {"url": url, "token": upload.token}}
    if kind == "file":
        shown["filename"] = upload.filename or "file"
        shown["size"] = len(upload.data)
    if kind == "image":
        shown["payload"]["photo_id"] = abs(hash(upload.token)) % 10**9
    return shown


def check_keyboard(payload: Json) -> None:
    rows = payload.get("buttons")
    if not isinstance(rows, list) or not rows or len(rows) > MAX_ROWS:
        raise _bad(f"buttons: 1..{MAX_ROWS} rows")
    total = 0
    for row in rows:
        if not isinstance(row, list) or not row:
            raise _bad("buttons: every row needs a button")
        wide = any(b.get("type") in WIDE for b in row if isinstance(b, dict))
        if len(row) > (MAX_PER_ROW_WIDE if wide else MAX_PER_ROW):
            raise _bad("buttons: too many buttons in a row")
        total += len(row)
        for button in row:
            _check_button(button)
    if total > MAX_BUTTONS:
        raise _bad(f"buttons: at most {MAX_BUTTONS}")


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or button.get("type") not in BUTTONS:
        raise _bad("button: unknown type")
    text = button.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= 128:
        raise _bad("button: text must be 1..128 characters")
    if button["type"] == "callback" and len(str(button.get("payload") or "")) > 1024:
        raise _bad("button: payload longer than 1024")

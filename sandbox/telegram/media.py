"""Building the Bot API objects of media messages (PhotoSize, Document, Video, ...)."""

from __future__ import annotations

from typing import Any

from .errors import ApiError, bad_request
from .params import Upload
from .state import BotRecord, FileRecord, Json, State

FILE_KINDS = ("photo", "document", "video", "animation", "voice", "audio", "video_note", "sticker")
TITLES = {
    "photo": "Photo",
    "document": "Document",
    "video": "Video",
    "animation": "Animation",
    "voice": "Voice",
    "audio": "Audio",
    "video_note": "VideoNote",
    "sticker": "Sticker",
}
DEFAULT_MIME = {
    "video": "video/mp4",
    "animation": "video/mp4",
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "document": "application/octet-stream",
}
UPLOAD_LIMIT = 50 * 1024 * 1024  # cloud Bot API upload limit
# Telegram stores GIFs as documents: the two kinds can be re-sent as each other.
_INTERCHANGEABLE = {frozenset({"animation", "document"})}


def _compatible(stored: str, wanted: str) -> bool:
    return stored == wanted or frozenset({stored, wanted}) in _INTERCHANGEABLE


def resolve_media(
    state: State, bot: BotRecord, kind: str, value: str | Upload | None
) -> FileRecord:
    """An upload is stored; a file_id must belong to this bot and be of a usable type."""
    if value is None:
        raise bad_request(f"there is no {kind} in the request")
    if isinstance(value, Upload):
        if len(value.data) > UPLOAD_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        if not value.data:
            raise bad_request("file must be non-empty")
        return state.store_file(
            kind, value.data, file_name=value.filename, mime_type=value.content_type
        )
    if value.startswith(("http://", "https://")):
        # The emulator has no network; Telegram would download the URL.
        raise bad_request("failed to get HTTP URL content")
    record, _variant = state.file_by_id(bot, value)
    if not _compatible(record.kind, kind):
        raise bad_request(f"can't use file of type {TITLES[record.kind]} as {TITLES[kind]}")
    return record


def media_content(record: FileRecord, kind: str, extra: dict[str, Any] | None = None) -> Json:
    """Message fields for a file of ``kind``; ``extra`` overrides sizes, durations, names."""
    extra = {k: v for k, v in (extra or {}).items() if v is not None}
    ref: Json = {"_file": record.key}
    if kind == "photo":
        width, height = int(extra.get("width", 1280)), int(extra.get("height", 960))
        return {
            "photo": [
                {**ref, "_variant": "s", "width": 90, "height": max(1, 90 * height // width)},
                {**ref, "width": width, "height": height},
            ]
        }
    obj: Json = dict(ref)
    if kind in ("video", "animation"):
        obj.update(width=640, height=360, duration=5)
    elif kind in ("voice", "audio"):
        obj["duration"] = 3
    elif kind == "video_note":
        obj.update(length=240, duration=4)
    elif kind == "sticker":
        obj.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
    for key in ("width", "height", "duration", "length", "performer", "title", "emoji"):
        if key in extra:
            obj[key] = extra[key]
    if kind in ("document", "animation", "audio", "video"):
        file_name = extra.get("file_name") or record.file_name
        if file_name:
            obj["file_name"] = file_name
    if kind in DEFAULT_MIME:
        obj["mime_type"] = extra.get("mime_type") or record.mime_type or DEFAULT_MIME[kind]
    content: Json = {kind: obj}
    if kind == "animation":
        content["document"] = dict(obj)  # Telegram sends both fields for animations
    return content


def content_kind(content: Json) -> str | None:
    """The media kind of stored message content (animation wins over its document twin)."""
    for kind in ("animation", *FILE_KINDS):
        if kind in content:
            return kind
    return None

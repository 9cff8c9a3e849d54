"""Media: stored files, photo/doc objects in the VK API shape, customer-side attachments and
the ``photo{owner}_{id}[_{access_key}]`` strings ``messages.send`` accepts."""

from __future__ import annotations

import re
from typing import Any

from .errors import ControlError, param_error
from .state import Community, DocRecord, Json, PhotoRecord, State, now_ts, random_key

# A 1x1 PNG: small, but a real image so a relay that decodes it does not choke.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
DEFAULT_DOC = b"%PDF-1.4\n% relaydesk VK emulator sample document\n%%EOF\n"
DEFAULT_VOICE = b"OggS\x00\x02" + b"\x00" * 58
_SIZE_STEPS = (("s", 75), ("m", 130), ("x", 604), ("y", 807), ("z", 1080), ("w", 2560))
_DOC_TYPES = {
    "txt": 1,
    "zip": 2,
    "rar": 2,
    "gif": 3,
    "jpg": 4,
    "jpeg": 4,
    "png": 4,
    "mp3": 5,
    "ogg": 5,
    "mp4": 6,
    "epub": 7,
    "fb2": 7,
}
_ATTACHMENT_RE = re.compile(r"^(photo|doc)(-?\d+)_(\d+)(?:_([0-9A-Za-z]+))?$")


def photo_sizes(state: State, photo: PhotoRecord) -> list[Json]:
    longest = max(photo.width, photo.height)
    sizes: list[Json] = []
    for size_type, limit in _SIZE_STEPS:
        scale = min(1.0, limit / longest)
        sizes.append(
            {
                "type": size_type,
                "width": max(1, round(photo.width * scale)),
                "height": max(1, round(photo.height * scale)),
                "url": state.file_url(photo.blob, f"?size={size_type}"),
            }
        )
        if limit >= longest:
            break
    return sizes


def photo_api(state: State, photo: PhotoRecord) -> Json:
    return {
        "album_id": -3,
        "date": photo.date,
        "id": photo.id,
        "owner_id": photo.owner_id,
        "access_key": photo.access_key,
        "sizes": photo_sizes(state, photo),
        "orig_photo": {
            "type": "base",
            "width": photo.width,
            "height": photo.height,
            "url": state.file_url(photo.blob),
        },
        "text": "",
        "has_tags": False,
    }


def doc_api(state: State, doc: DocRecord) -> Json:
    if doc.kind == "audio_message":
        return {
            "id": doc.id,
            "owner_id": doc.owner_id,
            "duration": doc.duration,
            "waveform": [0, 7, 15, 31, 15, 7, 0],
            "link_ogg": state.file_url(doc.blob, "?fmt=ogg"),
            "link_mp3": state.file_url(doc.blob, "?fmt=mp3"),
            "access_key": doc.access_key,
        }
    return {
        "id": doc.id,
        "owner_id": doc.owner_id,
        "title": doc.title,
        "size": len(state.blobs[doc.blob].data),
        "ext": doc.ext,
        "date": doc.date,
        "type": _DOC_TYPES.get(doc.ext.lower(), 8),
        "url": state.file_url(doc.blob),
        "access_key": doc.access_key,
    }


def attachment_of(state: State, item: PhotoRecord | DocRecord) -> Json:
    if isinstance(item, PhotoRecord):
        return {"type": "photo", "photo": photo_api(state, item)}
    return {"type": item.kind, item.kind: doc_api(state, item)}


def new_photo(
    state: State,
    owner_id: int,
    data: bytes,
    *,
    width: int = 1280,
    height: int = 960,
    name: str = "photo.jpg",
) -> PhotoRecord:
    blob = state.add_blob(data, "image/jpeg" if data[:2] == b"\xff\xd8" else "image/png", name)
    photo = PhotoRecord(
        next(state.media_ids), owner_id, random_key(), blob.key, width, height, now_ts()
    )
    state.photos[(owner_id, photo.id)] = photo
    return photo


def new_doc(
    state: State,
    owner_id: int,
    data: bytes,
    title: str,
    *,
    kind: str = "doc",
    content_type: str = "application/octet-stream",
    duration: int = 1,
) -> DocRecord:
    blob = state.add_blob(data, content_type, title)
    ext = title.rsplit(".", 1)[-1] if "." in title else ("ogg" if kind != "doc" else "")
    doc = DocRecord(
        next(state.media_ids),
        owner_id,
        random_key(),
        blob.key,
        title,
        ext,
        now_ts(),
        kind,
        duration,
    )
    state.docs[(owner_id, doc.id)] = doc
    return doc


def customer_attachment(state: State, owner_id: int, spec: str | Json) -> Json:
    """A customer-side attachment. spec: a kind ("photo", "doc", "sticker", "audio_message",
    "wall", "link") or a dict with "type" plus options (data, title, url, text, ...)."""
    opts: dict[str, Any] = {"type": spec} if isinstance(spec, str) else dict(spec)
    kind = opts.get("type")
    if kind == "photo":
        photo = new_photo(
            state,
            owner_id,
            opts.get("data", TINY_PNG),
            width=int(opts.get("width", 1280)),
            height=int(opts.get("height", 960)),
        )
        return attachment_of(state, photo)
    if kind == "doc":
        doc = new_doc(
            state,
            owner_id,
            opts.get("data", DEFAULT_DOC),
            opts.get("title", "document.pdf"),
            content_type=opts.get("content_type", "application/pdf"),
        )
        return attachment_of(state, doc)
    if kind == "audio_message":
        doc = new_doc(
            state,
            owner_id,
            opts.get("data", DEFAULT_VOICE),
            "voice.ogg",
            kind="audio_message",
            content_type="audio/ogg",
            duration=int(opts.get("duration", 3)),
        )
        return attachment_of(state, doc)
    if kind == "sticker":
        blob = state.add_blob(opts.get("data", TINY_PNG), "image/png", "sticker.png")
        images = [
            {"url": state.file_url(blob.key, f"?w={w}"), "width": w, "height": w}
            for w in (64, 128, 256, 352, 512)
        ]
        return {
            "type": "sticker",
            "sticker": {
                "product_id": int(opts.get("product_id", 1)),
                "sticker_id": int(opts.get("sticker_id", 9010)),
                "images": images,
                "images_with_background": images,
                "is_allowed": True,
            },
        }
    if kind == "wall":
        post_owner = int(opts.get("owner_id", -1))
        return {
            "type": "wall",
            "wall": {
                "id": int(opts.get("id", 1)),
                "owner_id": post_owner,
                "from_id": post_owner,
                "to_id": post_owner,
                "date": now_ts(),
                "post_type": "post",
                "text": opts.get("text", "A post"),
            },
        }
    if kind == "link":
        return {
            "type": "link",
            "link": {
                "url": opts.get("url", "https://example.com/"),
                "title": opts.get("title", "Example"),
                "caption": opts.get("caption", "example.com"),
                "description": opts.get("description", ""),
                "is_favorite": False,
            },
        }
    raise ControlError(f"unknown attachment kind {kind!r}")


def resolve_attachments(state: State, community: Community, raw: str) -> list[Json]:
    """Parse messages.send's ``attachment`` (comma-separated) into attachment objects."""
    result = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        match = _ATTACHMENT_RE.match(part)
        if match is None:
            raise param_error(f"attachment {part!r} is invalid")
        kind, owner, item_id, key = match.groups()
        store: Any = state.photos if kind == "photo" else state.docs
        item = store.get((int(owner), int(item_id)))
        if item is None or (key is not None and key != item.access_key):
            raise param_error(f"attachment {part!r} is invalid")
        if key is None and item.owner_id != -community.id:
            raise param_error(f"attachment {part!r} is invalid: access_key is required")
        result.append(attachment_of(state, item))
    if len(result) > 10:
        raise param_error("too many attachments")
    return result

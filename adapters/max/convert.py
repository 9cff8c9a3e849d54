"""MAX message objects → core values.

Files (images, files, audio, video, stickers) become `Attachment`s the desk fetches by their
URL; what has no file (locations, contacts, shares, forwards) is written into the text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.model import Attachment, Content, Profile

Json = dict[str, Any]
PLATFORM = "max"


def profile_of(user: Json | None, locale: str | None = None) -> Profile:
    """A MAX user as updates describe them (`sender`, `user`); every string is theirs."""
    user = user or {}
    name = " ".join(str(p) for p in (user.get("first_name"), user.get("last_name")) if p)
    username = user.get("username") or None
    language = locale.split("-")[0].lower() if isinstance(locale, str) and locale else None
    return Profile(
        display_name=name or f"id{user.get('user_id', '?')}",
        username=str(username) if username else None,
        language=language,
        link=None,  # MAX publishes no profile address for users
    )


def sent_at(timestamp: Any) -> datetime:
    """MAX times are Unix milliseconds."""
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def content_of(message: Json) -> Content:
    body = message.get("body") or {}
    lines = [str(body["text"])] if body.get("text") else []
    files: list[Attachment] = []
    for item in body.get("attachments") or []:
        described = _attachment(item) if isinstance(item, dict) else None
        if isinstance(described, Attachment):
            files.append(described)
        elif described:
            lines.append(described)
    link = message.get("link") or {}
    quote = None
    if link.get("type") == "forward":
        quoted = link.get("message") or {}
        who = _who(link.get("sender"))
        text = str(quoted.get("text") or "").replace("\n", "\n» ")
        lines.append(f"↪️ Forwarded ({who}):\n» {text}" if text else f"↪️ Forwarded ({who})")
    elif link.get("type") == "reply":
        quoted = link.get("message") or {}
        quote = f"{_who(link.get('sender'))}: {quoted.get('text') or '[attachment]'}"
    kind = files[0].kind if files else "text"
    return Content(content_type=kind, text="\n".join(lines), attachments=tuple(files),
                   quote=quote)


def reply_id(message: Json) -> str | None:
    link = message.get("link") or {}
    if link.get("type") != "reply":
        return None
    mid = (link.get("message") or {}).get("mid")
    return str(mid) if mid else None


def _who(sender: Any) -> str:
    if not isinstance(sender, dict):
        return "someone"
    name = " ".join(str(p) for p in (sender.get("first_name"), sender.get("last_name")) if p)
    return name or f"id{sender.get('user_id', '?')}"


def _attachment(item: Json) -> Attachment | str | None:
    kind, payload = item.get("type"), item.get("payload") or {}
    url = payload.get("url") if isinstance(payload, dict) else None
    # The token names the file itself (a URL may differ between two updates about it): an
    # edit that changed it replaced the file.
    key = str(payload.get("token") or payload.get("code") or "") or None \
        if isinstance(payload, dict) else None
    if kind == "image":
        return Attachment("photo", PLATFORM, url, "photo.jpg", "image/jpeg", key) if url \
            else "🖼 an image"
    if kind == "file" and url:
        return Attachment("document", PLATFORM, url, str(item.get("filename") or "file"),
                          key=key)
    if kind == "audio" and url:
        return Attachment("voice", PLATFORM, url, "voice.ogg", "audio/ogg", key)
    if kind == "video" and url:
        return Attachment("video", PLATFORM, url, "video.mp4", "video/mp4", key)
    if kind == "sticker" and url:
        return Attachment("sticker", PLATFORM, url, "sticker.png", "image/png", key)
    if kind == "location":
        return f"📍 {item.get('latitude')}, {item.get('longitude')}"
    if kind == "contact":
        info = payload.get("vcf_info") if isinstance(payload, dict) else None
        return f"👤 a contact\n{info}" if info else "👤 a contact"
    if kind == "share" and url:
        return f"🔗 {url}"
    if kind == "inline_keyboard":
        return None
    return f"❔ a {kind} attachment relaydesk can't show"

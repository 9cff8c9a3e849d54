"""VK message objects (API 5.199) → core values.

Files (photos, documents, voice messages, sticker images) become `Attachment`s the desk
fetches by URL; what has no file (wall posts, links, forwarded messages, quotes) is written
into the text, so operators read it in the topic as it was meant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.model import Attachment, Content, Profile

Json = dict[str, Any]
PLATFORM = "vk"
# client_info.lang_id → language code (VK's own numbering).
LANGUAGES = {0: "ru", 1: "uk", 2: "be", 3: "en", 4: "es", 5: "fi", 6: "de", 7: "it"}


def profile_of(user: Json | None, user_id: int, lang_id: int | None = None) -> Profile:
    """A VK user as `users.get` describes them (None when the lookup failed: the name stays
    empty and the store keeps the one it knows)."""
    language = LANGUAGES.get(lang_id) if lang_id is not None else None
    link = f"https://vk.com/id{user_id}"
    if user is None:
        return Profile(display_name="", language=language, link=link)
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    screen = user.get("screen_name")
    return Profile(
        display_name=name or f"id{user_id}",
        username=screen if screen and screen != f"id{user_id}" else None,
        language=language,
        link=f"https://vk.com/{screen}" if screen else link,
    )


def sent_at(message: Json) -> datetime:
    return datetime.fromtimestamp(int(message.get("date") or 0), UTC)


def edited_at(message: Json) -> datetime:
    return datetime.fromtimestamp(int(message.get("update_time") or message.get("date") or 0),
                                  UTC)


def content_of(message: Json) -> Content:
    lines: list[str] = []
    if message.get("text"):
        lines.append(str(message["text"]))
    attachments: list[Attachment] = []
    _describe(message, lines, attachments, depth=0)
    reply = message.get("reply_message")
    kind = attachments[0].kind if attachments else "text"
    return Content(content_type=kind, text="\n".join(lines), attachments=tuple(attachments),
                   quote=_quote_text(reply) if isinstance(reply, dict) else None)


def reply_id(message: Json) -> str | None:
    reply = message.get("reply_message")
    if isinstance(reply, dict) and reply.get("id"):
        return str(reply["id"])
    return None


def _author(quoted: Json) -> str:
    author = quoted.get("from_id")
    return f"id{author}" if isinstance(author, int) and author > 0 else f"club{-int(author or 0)}"


def _quote(label: str, quoted: Json) -> str:
    text = str(quoted.get("text") or "").replace("\n", "\n» ")
    who = _author(quoted)
    return f"{label} ({who}):\n» {text}" if text else f"{label} ({who})"


def _quote_text(quoted: Json) -> str:
    text = str(quoted.get("text") or "") or "[" + ", ".join(
        str(a.get("type")) for a in quoted.get("attachments") or []) + "]"
    return f"{_author(quoted)}: {text}"


def _describe(message: Json, lines: list[str], files: list[Attachment], depth: int) -> None:
    for item in message.get("attachments") or []:
        kind = item.get("type")
        obj = item.get(kind) or {}
        described = _attachment(kind, obj)
        if isinstance(described, Attachment):
            files.append(described)
        elif described:
            lines.append(described)
    if depth >= 3:  # VK nests forwards deeply; three levels say enough
        return
    for forwarded in message.get("fwd_messages") or []:
        lines.append(_quote("↪️ Forwarded", forwarded))
        _describe(forwarded, lines, files, depth + 1)


def _attachment(kind: str | None, obj: Json) -> Attachment | str:
    if kind == "photo":
        url = (obj.get("orig_photo") or {}).get("url") or _largest(obj.get("sizes"))
        return Attachment("photo", PLATFORM, url, "photo.jpg", "image/jpeg") if url else \
            "🖼 a photo"
    if kind == "doc" and obj.get("url"):
        return Attachment("document", PLATFORM, obj["url"], obj.get("title") or "document")
    if kind == "audio_message" and (obj.get("link_ogg") or obj.get("link_mp3")):
        return Attachment("voice", PLATFORM, obj.get("link_ogg") or obj["link_mp3"],
                          "voice.ogg", "audio/ogg")
    if kind == "sticker":
        url = _largest(obj.get("images"))
        if url:
            return Attachment("sticker", PLATFORM, url, "sticker.png", "image/png")
        return "🙂 a sticker"
    if kind == "wall":
        owner, post = obj.get("owner_id", obj.get("to_id")), obj.get("id")
        text = str(obj.get("text") or "")
        return f"📰 Wall post https://vk.com/wall{owner}_{post}" + (f"\n{text}" if text else "")
    if kind == "link":
        title = obj.get("title") or ""
        return f"🔗 {title}: {obj.get('url', '')}" if title else f"🔗 {obj.get('url', '')}"
    if kind == "video":
        return f"🎬 a video https://vk.com/video{obj.get('owner_id')}_{obj.get('id')}"
    if kind == "audio":
        return f"🎵 {obj.get('artist', '')} – {obj.get('title', '')}"
    return f"❔ a {kind} attachment relaydesk can't show"


def _largest(sizes: Any) -> str | None:
    if not sizes:
        return None
    best = max(sizes, key=lambda s: int(s.get("width") or 0) * int(s.get("height") or 0))
    return best.get("url")

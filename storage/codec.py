"""The canonical content as stored (a JSON column) and back."""

from __future__ import annotations

from typing import Any

from core import model as m


def content_json(content: m.Content) -> dict[str, Any]:
    return {
        "content_type": content.content_type, "text": content.text,
        "copyable": content.copyable, "summary": content.summary,
        "media_group_id": content.media_group_id, "data": content.data,
        **({"attachments": [attachment_json(a) for a in content.attachments]}
           if content.attachments else {}),
        **({"quote": content.quote} if content.quote else {}),
    }


def attachment_json(a: m.Attachment) -> dict[str, Any]:
    return {"kind": a.kind, "platform": a.platform, "ref": a.ref, "name": a.name,
            "mime": a.mime, **({"key": a.key} if a.key else {})}


def content_out(raw: dict[str, Any]) -> m.Content:
    return m.Content(
        content_type=raw.get("content_type", "text"), text=raw.get("text", ""),
        copyable=raw.get("copyable", True), summary=raw.get("summary"),
        media_group_id=raw.get("media_group_id"), data=raw.get("data") or {},
        attachments=tuple(m.Attachment(**a) for a in raw.get("attachments") or ()),
        quote=raw.get("quote"),
    )

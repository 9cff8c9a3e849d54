"""Photos and documents to VK: ask for an upload server, POST the file there, save it, and
get the attachment string `messages.send` takes."""

from __future__ import annotations

import json
import mimetypes
from typing import Any

import aiohttp

from .errors import VkNetworkError, VkUploadError
from .transport import VkApi


async def upload_photo(api: VkApi, peer_id: int, data: bytes, filename: str) -> str:
    """Upload an image for a message to `peer_id`; ``photo{owner_id}_{id}[_{access_key}]``."""
    server = await api.call("photos.getMessagesUploadServer", peer_id=peer_id)
    answer = await _post(api, str(server["upload_url"]), "photo", data, filename)
    if not _photo_list(answer.get("photo")):
        raise VkUploadError(f"photo upload of {filename!r} was refused: {answer}")
    saved = await api.call(
        "photos.saveMessagesPhoto",
        photo=answer["photo"],
        server=answer.get("server"),
        hash=answer.get("hash"),
    )
    return _attachment("photo", saved[0])


async def upload_doc(
    api: VkApi, peer_id: int, data: bytes, filename: str, type: str = "doc"
) -> str:
    """Upload a document (`type` "doc" or "audio_message") for a message to `peer_id`;
    ``doc{owner_id}_{id}[_{access_key}]``."""
    server = await api.call("docs.getMessagesUploadServer", peer_id=peer_id, type=type)
    answer = await _post(api, str(server["upload_url"]), "file", data, filename)
    if "file" not in answer:
        raise VkUploadError(f"document upload of {filename!r} was refused: {answer}")
    saved = await api.call("docs.save", file=answer["file"], title=filename)
    kind = saved.get("type", "doc")
    return _attachment("doc", saved[kind])


async def _post(
    api: VkApi, url: str, field: str, data: bytes, filename: str
) -> dict[str, Any]:
    form = aiohttp.FormData()
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    form.add_field(field, data, filename=filename, content_type=content_type)
    try:
        async with api.session.post(
            url, data=form, timeout=aiohttp.ClientTimeout(total=api.timeout)
        ) as resp:
            if resp.status != 200:
                raise VkNetworkError("upload", f"HTTP {resp.status}")
            answer = await resp.json(content_type=None)
    except aiohttp.ClientConnectorError as exc:
        raise VkNetworkError("upload", f"cannot connect: {exc}", unsent=True) from exc
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise VkNetworkError("upload", f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(answer, dict) or "error" in answer:
        raise VkUploadError(f"upload of {filename!r} was refused: {answer}")
    return answer


def _photo_list(raw: Any) -> list[Any]:
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return items if isinstance(items, list) else []


def _attachment(kind: str, obj: dict[str, Any]) -> str:
    ref = f"{kind}{obj['owner_id']}_{obj['id']}"
    return f"{ref}_{obj['access_key']}" if obj.get("access_key") else ref

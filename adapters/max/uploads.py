"""Files to MAX in three steps: ask `POST /uploads?type=` for a slot, POST the bytes there
(multipart field `data`, no token), then attach what the answers say. Each step answers in
its own shape: images give `photos`, files a `token`, audio and video only `<retval>` (their
token came with the slot)."""

from __future__ import annotations

import mimetypes
from typing import Any

import aiohttp

from .errors import MaxApiError, MaxNetworkError
from .transport import MaxApi

# Core attachment kinds → MAX upload types.
UPLOAD_TYPES = {"photo": "image", "sticker": "image", "voice": "audio", "audio": "audio",
                "video": "video", "animation": "video", "document": "file"}


async def upload(api: MaxApi, kind: str, data: bytes, filename: str) -> dict[str, Any]:
    """Upload one file; the attachment `POST /messages` takes."""
    upload_type = UPLOAD_TYPES.get(kind, "file")
    slot = await api.request("POST", "/uploads", {"type": upload_type})
    answer = await _post(api, str(slot["url"]), data, filename)
    if upload_type == "image":
        photos = answer.get("photos") if isinstance(answer, dict) else None
        if not isinstance(photos, dict) or not photos:
            raise MaxApiError(400, "upload.refused", f"image upload answered {answer!r}")
        return {"type": "image", "payload": {"photos": photos}}
    if upload_type == "file":
        token = answer.get("token") if isinstance(answer, dict) else None
        if not token:
            raise MaxApiError(400, "upload.refused", f"file upload answered {answer!r}")
        return {"type": "file", "payload": {"token": token}}
    # Audio and video: the upload host answers XML; the token is the slot's.
    return {"type": upload_type, "payload": {"token": slot["token"]}}


async def _post(api: MaxApi, url: str, data: bytes, filename: str) -> Any:
    form = aiohttp.FormData()
    mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    form.add_field("data", data, filename=filename, content_type=mime)
    try:
        async with api.session.post(url, data=form, timeout=aiohttp.ClientTimeout(
                total=api.timeout)) as resp:
            if resp.status != 200:
                raise MaxApiError(resp.status, f"upload.http.{resp.status}",
                                  (await resp.text())[:200], "upload")
            if "json" not in (resp.content_type or ""):
                return {}
            return await resp.json(content_type=None)
    except aiohttp.ClientConnectorError as exc:
        raise MaxNetworkError("upload", f"cannot connect: {exc}", unsent=True) from exc
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise MaxNetworkError("upload", f"{type(exc).__name__}: {exc}") from exc

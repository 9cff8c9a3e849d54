"""The upload servers (``upload_url``) and the file server behind attachment URLs."""

from __future__ import annotations

import hashlib
import json
import struct

from aiohttp import web

from .state import State, UploadSlot, random_key

UPLOAD_SERVER_ID = 852836
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")


def upload_hash(token: str, server: int) -> str:
    return hashlib.md5(f"{token}:{server}".encode(), usedforsecurity=False).hexdigest()


def is_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG; other formats get a plausible default."""
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return max(width, 1), max(height, 1)
    return 1280, 960


class UploadServer:
    def __init__(self, state: State) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/upload/{kind}/{slot}", self.handle_upload),
            web.get("/files/{key}", self.handle_file),
        ]

    async def handle_upload(self, request: web.Request) -> web.Response:
        slot = self.state.upload_slots.get(request.match_info["slot"])
        if slot is None:
            return web.json_response({"error": "invalid upload url"}, status=404)
        field = "photo" if slot.kind == "photo" else "file"
        data, name, content_type = b"", "", ""
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = form.get(field)
            if isinstance(part, web.FileField):
                data = part.file.read()
                name = part.filename or field
                content_type = part.content_type or "application/octet-stream"
        if slot.kind == "photo":
            return web.json_response(self._photo_answer(slot, data, name, content_type))
        if not data:
            return web.json_response({"error": "no_file", "error_descr": f"no '{field}' part"})
        token = self._store(slot, data, name, content_type)
        return web.json_response({"file": token})

    def _photo_answer(
        self, slot: UploadSlot, data: bytes, name: str, content_type: str
    ) -> dict[str, object]:
        # VK answers an upload of nothing (or of a non-image) with an empty photos list;
        # saveMessagesPhoto then fails with error 100.
        photos: list[dict[str, object]] = []
        token = ""
        if data and is_image(data):
            token = self._store(slot, data, name, content_type)
            photos.append(
                {
                    "markers_restarted": True,
                    "photo": token,
                    "sizes": [],
                    "latitude": 0,
                    "longitude": 0,
                    "kid": random_key(32),
                }
            )
        return {
            "server": UPLOAD_SERVER_ID,
            "photo": json.dumps(photos),
            "hash": upload_hash(token, UPLOAD_SERVER_ID),
        }

    def _store(self, slot: UploadSlot, data: bytes, name: str, content_type: str) -> str:
        blob = self.state.add_blob(data, content_type, name)
        token = random_key(40)
        self.state.uploaded[token] = (slot, blob.key)
        self.state.notifier.notify()
        return token

    async def handle_file(self, request: web.Request) -> web.Response:
        blob = self.state.blobs.get(request.match_info["key"])
        if blob is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=blob.data, content_type=blob.content_type)

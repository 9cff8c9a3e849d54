"""Request parameters as the Bot API server sees them.

Clients send JSON bodies, url-encoded forms or multipart forms. In forms every value is a
string: aiogram encodes ints as ``"123"``, bools as ``"true"`` and nested objects/arrays as JSON
text. Telegram decodes each field according to its declared type, so the typed getters below
accept both native JSON values and their string forms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

# Fields whose value is free text: never JSON-decoded, even if a customer's text happens to look
# like ``[1, 2]``.
FREE_TEXT_FIELDS = frozenset(
    {
        "text",
        "caption",
        "name",
        "title",
        "description",
        "question",
        "explanation",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "address",
        "emoji",
        "performer",
        "callback_query_id",
        "url",
        "language_code",
        "parse_mode",
        "business_connection_id",
        "icon_custom_emoji_id",
        "sticker",
        "photo",
        "document",
        "video",
        "voice",
        "audio",
        "animation",
        "video_note",
        "file_id",
    }
)


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    data: bytes
    content_type: str | None = None


def decode_form_value(name: str, value: str) -> Any:
    if name in FREE_TEXT_FIELDS:
        return value
    stripped = value.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class Params:
    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.uploads = uploads or {}

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def get_str(
        self, name: str, *, required: bool = False, empty: str | None = None
    ) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(empty or f"{name} is empty")
            return None
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    def require_str(self, name: str, empty: str | None = None) -> str:
        value = self.get_str(name, required=True, empty=empty)
        assert value is not None
        return value

    def get_int(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f'field "{name}" must be a valid Integer') from None

    def require_int(self, name: str) -> int:
        value = self.get_int(name, required=True)
        assert value is not None
        return value

    def get_float(self, name: str, *, required: bool = False) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be a valid Number') from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")

    def get_json(self, name: str) -> Any:
        """A nested object/array; JSON text is decoded (JSON bodies may still carry it)."""
        value = self.values.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def chat_id(self, name: str = "chat_id") -> int | str:
        value = self.values.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None

    def file(self, name: str) -> str | Upload | None:
        """A file given as an ``attach://`` reference, a direct part, a file_id or a URL."""
        if name in self.uploads and name not in self.values:
            return self.uploads[name]
        value = self.values.get(name)
        if isinstance(value, Upload):
            return value
        if value is None or value == "":
            return None
        return self.resolve_file_ref(str(value))

    def resolve_file_ref(self, value: str) -> str | Upload:
        if value.startswith("attach://"):
            key = value.removeprefix("attach://")
            if key not in self.uploads:
                raise bad_request(f"file {key!r} must be uploaded as a multipart part")
            return self.uploads[key]
        return value

    def for_log(self) -> dict[str, Any]:
        """Decoded params with uploads summarised (the log must not keep megabytes of bytes)."""
        logged: dict[str, Any] = {}
        for key, value in self.values.items():
            logged[key] = _summarise(value)
        for key, upload in self.uploads.items():
            logged.setdefault(f"attach://{key}", _summarise(upload))
        return logged


def _summarise(value: Any) -> Any:
    if isinstance(value, Upload):
        return f"<upload {value.filename} {len(value.data)} bytes>"
    return value

"""What of a config value may be printed: secret keys hidden, URL passwords and tokens masked.

Every message about the config goes through here, so an error report or a summary never
echoes a token, even one pasted under the wrong key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from bots.durations import format_duration

_SECRET_KEY_NAMES = frozenset({"token", "secret", "password", "passwd", "api_key", "apikey"})
_SECRET_SUFFIXES = ("_token", "_secret", "_password")
_SECRET_QUERY_PARAM = re.compile(r"([?&][^=&#]*(?:password|secret|token)[^=&#]*=)[^&#]*", re.I)
_TOKEN_SHAPED = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


def is_secret_path(loc: Sequence[str | int]) -> bool:
    """Whether the value at ``loc`` must never be printed (tokens, secrets, passwords)."""
    for part in loc:
        if isinstance(part, str):
            name = part.lower()
            if name in _SECRET_KEY_NAMES or name.endswith(_SECRET_SUFFIXES):
                return True
    return False


def redact_url(url: str) -> str:
    """Mask the password of ``scheme://user:password@host/...?password=...``."""
    url = _SECRET_QUERY_PARAM.sub(r"\1***", url)
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    rest = url[scheme_end + 3 :]
    # The last "@" ends the userinfo: passwords may contain "@" (unquoted) but hosts may not.
    at = rest.rfind("@")
    if at < 0 or ":" not in rest[:at]:
        return url
    user = rest[: rest.index(":")]
    return f"{url[: scheme_end + 3]}{user}:***@{rest[at + 1 :]}"


def mask_secrets(text: str) -> str:
    """Mask URL passwords and anything shaped like a bot token inside free text."""
    return _TOKEN_SHAPED.sub("***", redact_url(text))


def echo(loc: Sequence[str | int], value: object) -> str | None:
    """A short printable form of a bad value, or None when it must not be shown."""
    if is_secret_path(loc) or isinstance(value, dict | list):
        return None
    if isinstance(value, timedelta):
        return format_duration(value)
    shown = repr(mask_secrets(value)) if isinstance(value, str) else repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."

"""Visitor tokens: a random visitor id and its HMAC under `web.secret`.

The token is the visitor's only credential: relaydesk issues it, the page keeps it, and every
request proves with it which visitor it speaks for. Without the secret nobody can make one,
and changing a character of it (the id or the signature) makes it worthless.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_ID = re.compile(r"^[A-Za-z0-9_-]{24}$")
_DOMAIN = b"relaydesk-web-visitor-v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class VisitorTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, visitor: str) -> str:
        return _b64(hmac.new(self._secret, _DOMAIN + visitor.encode(), hashlib.sha256).digest())

    def issue(self) -> tuple[str, str]:
        """A new visitor: (visitor id, token)."""
        visitor = _b64(secrets.token_bytes(18))
        return visitor, f"{visitor}.{self._sign(visitor)}"

    def visitor_of(self, token: object) -> str | None:
        """The visitor a token speaks for, or None for anything forged, cut or malformed."""
        if not isinstance(token, str) or len(token) > 100:
            return None
        visitor, _, signature = token.partition(".")
        if not _ID.match(visitor):
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(visitor).encode()):
            return None
        return visitor


def visitor_number(visitor: str) -> int:
    """A short number operators can say ("Visitor 4821"), stable for the visitor."""
    return 1000 + int.from_bytes(hashlib.sha256(visitor.encode()).digest()[:4], "big") % 9000

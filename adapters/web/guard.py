"""The public endpoint's guard: which origins may talk to it, how much one visitor and one
address may ask, how large a request may be, and the headers every answer carries."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from .limits import RateLimits
from .visitors import WebError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Guard:
    def __init__(self, origins: Iterable[str], ip_limits: RateLimits,
                 visitor_limits: RateLimits, client_ip: Callable[[web.Request], str]) -> None:
        self._origins = {o.lower().rstrip("/") for o in origins}
        self._ips = ip_limits
        self._visitors = visitor_limits
        self._client_ip = client_ip

    def origin(self, request: web.Request) -> str | None:
        """The page's origin when it may talk to us; WebError otherwise. Browsers send
        Origin on every cross-origin request and WebSocket handshake; a same-origin GET
        (our own sandbox page) has none and says so in Sec-Fetch-Site."""
        origin = request.headers.get("Origin")
        if origin is None and request.headers.get("Sec-Fetch-Site") == "same-origin":
            return None
        if origin is not None and origin.lower() == f"{request.scheme}://{request.host}".lower():
            return origin  # our own pages (the sandbox's)
        if origin is None or origin.lower().rstrip("/") not in self._origins:
            raise WebError(403, "origin_not_allowed", "this site may not use the chat")
        return origin

    def by_address(self, request: web.Request) -> None:
        wait = self._ips.hit(self._client_ip(request))
        if wait:
            raise WebError(429, "rate_limited", "too many requests", retry_after=wait)

    def by_visitor(self, visitor: str) -> None:
        wait = self._visitors.hit(visitor)
        if wait:
            raise WebError(429, "rate_limited", "too many messages", retry_after=wait)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin: str | None = None
        try:
            origin = self.origin(request)
            if request.method == "OPTIONS":
                return _cors(web.Response(status=204), origin)
            self.by_address(request)
            response = await handler(request)
        except WebError as exc:
            response = error_response(exc)
        if not response.prepared:  # a WebSocket's answer is sent already
            response.headers.update(API_HEADERS)
            _cors(response, origin)
        return response


def _cors(response: web.StreamResponse, origin: str | None) -> web.StreamResponse:
    if origin is not None:
        response.headers.update({
            "Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, X-File-Name",
            "Access-Control-Max-Age": "600"})
    return response


def error_response(exc: WebError) -> web.Response:
    response = web.json_response({"error": exc.code, "message": str(exc)}, status=exc.status)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refused (413) past `limit` bytes, whatever Content-Length claims."""
    if request.content_length is not None and request.content_length > limit:
        raise WebError(413, "too_large", f"at most {limit} bytes")
    data = bytearray()
    while chunk := await request.content.read(65536):
        data += chunk
        if len(data) > limit:
            raise WebError(413, "too_large", f"at most {limit} bytes")
    return bytes(data)


def parse_json(raw: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WebError(400, "bad_json", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebError(400, "bad_json", "expected a JSON object")
    return data

"""A platform's API server that gives no usable answer at start, described in one line.

Shared by the Telegram and VK adapters: both talk HTTP through aiohttp, and both must tell an
admin which server failed and why without ever printing a URL (aiogram's carry the token).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import aiohttp


class ServerUnreachable(Exception):
    """The API server could not be reached or answered 5xx: worth trying again later.

    `key` is the config key of the server's address, `server` its host[:port], `cause` a
    short description that holds no URL and no token; `wait` is a minimum delay the server
    asked for (0 when it asked for none).
    """

    def __init__(self, api: str, key: str, server: str, cause: str, wait: float = 0.0) -> None:
        super().__init__(f"can't reach the {api} at {server} ({key}): {cause}")
        self.api = api
        self.key = key
        self.server = server
        self.cause = cause
        self.wait = wait


def server_name(url: str) -> str:
    """host[:port] of `url` (no scheme, credentials or path: those may hold secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def describe(exc: BaseException | None, timeout: float | None = None) -> str:
    """A short cause for a failed HTTP request, built from the exception's type and error
    number, never from its text (aiohttp puts the request URL in some of them)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "the TLS certificate was not accepted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "the TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, socket.gaierror):
            return f"DNS lookup failed ({_os_reason(exc.os_error)})"
        return f"can't connect ({_os_reason(exc.os_error)})"
    if isinstance(exc, TimeoutError):  # before ClientError: aiohttp's timeouts are both
        return f"no answer within {timeout:g}s" if timeout else "timed out"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}"
    if isinstance(exc, OSError):
        return _os_reason(exc)
    if isinstance(exc, ValueError):
        return "the answer is not JSON"
    return "no usable answer" if exc is None else type(exc).__name__


def _os_reason(error: OSError) -> str:
    # asyncio words every failed connect as "Connect call failed (address)"; the error
    # number says what actually happened. getaddrinfo's errors have their own strerror.
    if error.errno and error.errno > 0:
        return os.strerror(error.errno).lower()
    return (error.strerror or type(error).__name__).lower()


def redact(text: str, secret: str) -> str:
    """`text` with `secret` blanked out (a last guard for text a server sent back)."""
    return text.replace(secret, "***") if secret else text

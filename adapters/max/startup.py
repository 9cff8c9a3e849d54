"""Startup check of the MAX bot: `GET /me` with the token; fail fast with the fix named, and
report a MAX API that can't be reached as such (the caller waits and tries again)."""

from __future__ import annotations

from typing import Any

import aiohttp

from adapters.unreachable import ServerUnreachable, describe, server_name

from .errors import BAD_TOKEN, MaxApiError, MaxNetworkError
from .transport import MaxApi


class MaxSetupError(Exception):
    """MAX refuses our configuration; the message says how to fix it."""


async def check_bot(api: MaxApi) -> dict[str, Any]:
    """The bot's own user (`GET /me`). Raises `MaxSetupError` for what the admin must fix,
    `ServerUnreachable` while MAX gives no usable answer."""
    try:
        me: Any = await api.request("GET", "/me", retries=0)
    except MaxApiError as exc:
        if exc.status == 401 or exc.code == BAD_TOKEN:
            raise MaxSetupError(
                "max.token: MAX rejected the token (401 verify.token). Copy the bot's token "
                "from the MAX partner platform (business.max.ru → Chat bots → Integration)."
            ) from exc
        if exc.status >= 500 or exc.status == 429:
            raise unreachable(api, f"HTTP {exc.status} {exc.code}") from exc
        raise MaxSetupError(
            f"max.api_server: {server_name(api.api_server)} answered HTTP {exc.status} to "
            "GET /me. It must be the MAX Bot API's address, https://platform-api2.max.ru "
            "(platform-api.max.ru is refused by MAX)."
        ) from exc
    except MaxNetworkError as exc:
        if isinstance(exc.__cause__, aiohttp.ClientConnectorCertificateError):
            # Not something waiting fixes: the chain is not trusted here.
            raise MaxSetupError(
                f"max.ca_file: the TLS certificate of {server_name(api.api_server)} was not "
                "accepted. MAX's chain ends in the Russian Trusted Root CA, which most "
                "systems do not ship: set max.ca_file to its PEM file."
            ) from exc
        raise unreachable(api, describe(exc.__cause__, api.timeout) if exc.__cause__
                          else exc.detail) from exc
    if not isinstance(me, dict) or not me.get("user_id"):
        raise MaxSetupError(f"max.api_server: GET /me answered no bot: {str(me)[:100]}")
    return me


def unreachable(api: MaxApi, cause: str) -> ServerUnreachable:
    return ServerUnreachable("MAX Bot API", "max.api_server", server_name(api.api_server),
                             cause)

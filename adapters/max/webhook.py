"""Webhook mode: MAX pushes one bare update per POST to a path of relaydesk's HTTP server.

The request is checked against `X-Max-Bot-Api-Secret`, the update is stored (intake commits)
and only then answered 200; a failure answers 500 so MAX pushes it again (it retries for
8 hours). MAX may push the same update twice: the handler recognises repeats.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

Handler = Callable[[list[dict[str, Any]]], Awaitable[None]]
SECRET_HEADER = "X-Max-Bot-Api-Secret"


class MaxWebhook:
    """An HTTP part (see bots/http.py): `mount` adds the POST route."""

    name = "max-webhook"

    def __init__(self, path: str, secret: str, handler: Handler,
                 deadline: float = 25.0) -> None:
        self.path = "/" + path.lstrip("/")
        # MAX waits 30 s for the 200: past this, answer "try again" ourselves rather than
        # let MAX count a timeout (the unit of work is rolled back either way).
        self.deadline = deadline
        self._secret = secret
        self._handler = handler
        self.received = 0
        self.refused = 0

    def mount(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            self.refused += 1
            logger.warning("MAX webhook: a push without the right secret from %s",
                           request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            update = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(update, dict) or "update_type" not in update:
            return web.Response(status=400, text="not an update")
        try:
            async with asyncio.timeout(self.deadline):
                await self._handler([update])
        except TimeoutError:
            logger.warning("MAX webhook: storing %s took over %.0fs; MAX will push it again",
                           update.get("update_type"), self.deadline)
            return web.Response(status=503, text="try again")
        except Exception:
            logger.exception("MAX webhook: storing %s failed; MAX will push it again",
                             update.get("update_type"))
            return web.Response(status=500, text="try again")
        self.received += 1
        return web.json_response({"ok": True})

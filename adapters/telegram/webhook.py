"""Webhook intake (`telegram.mode: webhook`): Telegram POSTs each update to our route on the
shared HTTP server.

The answer is what makes it durable: 200 only after the update's handler has committed it,
anything else makes Telegram send it again (and a redelivered update is recognised by intake
like a re-polled one). A request without the right secret header is answered 401 before
anything is read or stored.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import defaultdict
from collections.abc import Callable

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from .polling import ALLOWED_UPDATES, POISON_LIMIT, chat_key
from .startup import UNREACHABLE, DeskSetupError, unreachable

logger = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramWebhook:
    """The webhook route (an `http:` server part) and setting the webhook at start."""

    name = "telegram-webhook"

    def __init__(self, bot: Bot, dispatcher: Dispatcher, *, path: str, secret: str,
                 url: str, max_connections: int) -> None:
        self._bot = bot
        self._dp = dispatcher
        self.path = path
        self._secret = secret.encode()
        self.url = url
        self._max_connections = max_connections
        # A chat's updates are handled one after another in this process (Telegram may
        # have several requests open at once).
        self._chat_locks: defaultdict[int | str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._waiting: defaultdict[int | str, int] = defaultdict(int)
        self._failures: dict[int, int] = {}
        self.is_set = False
        self.handled = 0
        self.on_update: Callable[[Update], None] | None = None  # metrics hook

    def mount(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.receive)

    async def set(self) -> None:
        """Point Telegram at us with the secret and the update types we handle. Pending
        updates are kept: they arrive as soon as the webhook is set."""
        try:
            await self._bot.set_webhook(self.url, secret_token=self._secret.decode(),
                                        max_connections=self._max_connections,
                                        allowed_updates=ALLOWED_UPDATES,
                                        drop_pending_updates=False)
        except UNREACHABLE as exc:
            raise unreachable(self._bot, exc) from exc
        except TelegramAPIError as exc:
            raise DeskSetupError(
                f"telegram.webhook: Telegram refused the webhook {self.url} ({exc.message}). "
                "http.public_url must be an https address Telegram can reach (ports 443, 80, "
                "88 or 8443), served by your reverse proxy."
            ) from exc
        self.is_set = True
        logger.info("telegram: webhook set to %s", self.url)

    async def registered_url(self) -> str:
        """The URL Telegram pushes to now ("" when no webhook is set): someone may have
        deleted ours or set another since we started (readiness asks)."""
        info = await self._bot.get_webhook_info()
        return info.url

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=401, text="wrong or missing secret token")
        try:
            update = Update.model_validate(json.loads(await request.read()),
                                           context={"bot": self._bot})
        except (ValueError, ValidationError):
            return web.Response(status=400, text="not a Telegram update")
        if self.on_update is not None:
            self.on_update(update)
        key = chat_key(update)
        self._waiting[key] += 1
        try:
            async with self._chat_locks[key]:
                stored = await self._handle(update)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # nobody else holds or waits for this chat's lock
                del self._waiting[key], self._chat_locks[key]
        return web.Response(status=200) if stored else web.Response(status=500)

    async def _handle(self, update: Update) -> bool:
        """True when the update is committed (or skipped as poison); False asks for it again."""
        try:
            await self._dp.feed_update(self._bot, update)
        except Exception:
            count = self._failures.get(update.update_id, 0) + 1
            self._failures[update.update_id] = count
            if count >= POISON_LIMIT:
                logger.exception("update %s failed %d times; skipping it: %s",
                                 update.update_id, count,
                                 update.model_dump_json(exclude_none=True))
                self._failures.pop(update.update_id, None)
                return True
            logger.exception("update %s failed (attempt %d); Telegram will send it again",
                             update.update_id, count)
            return False
        self.handled += 1
        self._failures.pop(update.update_id, None)
        return True

"""Webhook delivery: while a bot has a webhook, its updates are POSTed to the URL one per
request, with `X-Telegram-Bot-Api-Secret-Token` when a secret was set, at most
`max_connections` at a time. An update leaves the queue only when answered 200; any other
answer (or a failed connection) sends it again after `webhook_retry_delay`. A chat's next
update waits until the one before it was accepted, so each chat's order holds even when the
bot runs behind several processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp

from .state import BotRecord, Json, State

logger = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PUSH_TIMEOUT = 60.0  # Telegram gives a webhook about this long to answer


def update_chat(update: Json) -> object:
    """What orders an update: its chat (or the user pressing a button); else itself."""
    for key, payload in update.items():
        if key == "update_id" or not isinstance(payload, dict):
            continue
        for holder in (payload, payload.get("message") or {}):
            chat = holder.get("chat")
            if isinstance(chat, dict) and "id" in chat:
                return chat["id"]
        sender = payload.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return f"user:{sender['id']}"
    return update["update_id"]


class WebhookPusher:
    """One background task pushing every webhook bot's queue."""

    def __init__(self, state: State) -> None:
        self._state = state
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[tuple[int, int], asyncio.Task[None]] = {}
        # The next this many 200 answers are "lost on the way back": the update was handled
        # but Telegram never heard, so it sends it again (tests of de-duplication).
        self.lose_answers = 0

    def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=PUSH_TIMEOUT))
        self._task = asyncio.create_task(self._run(), name="tg-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._in_flight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._in_flight.clear()
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            for bot in list(self._state.bots.values()):
                if bot.webhook_url:
                    self._dispatch(bot)
            await self._state.notifier.wait(1.0)

    def _dispatch(self, bot: BotRecord) -> None:
        busy_chats = set()
        in_flight = sum(1 for key in self._in_flight if key[0] == bot.id)
        for update in list(bot.updates):
            chat = update_chat(update)
            key = (bot.id, update["update_id"])
            if key in self._in_flight or chat in busy_chats:
                busy_chats.add(chat)  # nothing of this chat overtakes an earlier update
                continue
            busy_chats.add(chat)
            if in_flight >= bot.webhook_max_connections:
                return
            in_flight += 1
            self._in_flight[key] = asyncio.create_task(self._push(bot, update, key))

    async def _push(self, bot: BotRecord, update: Json, key: tuple[int, int]) -> None:
        try:
            status = await self._post(bot, update)
            bot.webhook_pushes.append((update["update_id"], status))
            accepted = status == 200
            if accepted and self.lose_answers > 0:
                self.lose_answers -= 1
                accepted, bot.webhook_last_error = False, "Connection reset by peer"
            elif not accepted:
                bot.webhook_last_error = (f"Wrong response from the webhook: {status}"
                                          if status else "Connection refused")
            if accepted:
                bot.updates = [u for u in bot.updates if u["update_id"] != key[1]]
            else:  # still queued: pushed again after a pause
                await asyncio.sleep(self._state.options.webhook_retry_delay)
        finally:
            self._in_flight.pop(key, None)
            self._state.notifier.notify()

    async def _post(self, bot: BotRecord, update: Json) -> int:
        assert self._session is not None
        headers: dict[str, Any] = {SECRET_HEADER: bot.webhook_secret} if bot.webhook_secret \
            else {}
        try:
            async with self._session.post(bot.webhook_url, json=update,
                                          headers=headers) as answer:
                await answer.read()
                return answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.debug("webhook push of %s failed: %s", update["update_id"], exc)
            return 0

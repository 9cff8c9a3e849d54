"""The MAX channel, outgoing: `MaxChannel` implements the core's ChannelPort.

Texts go as `format: html` with every customer- or operator-supplied string escaped, split
at MAX's 4 000 characters; replies become `link: {type: reply, mid}`; files from other
platforms are fetched through the core's `Files` and uploaded in MAX's three steps, and a
send right after an upload that MAX has not processed yet (`attachment.not.ready`) is
retried with growing pauses. The chat id of a MAX customer is their user id (dialogs only).
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Sequence
from functools import partial
from typing import Any

from adapters.plain import plain_text
from core.files import Files
from core.model import Attachment, Choice, Message, Outgoing
from core.ports import RateKey

from . import errors
from .buttons import keyboard
from .convert import PLATFORM
from .errors import NOT_READY, MaxApiError
from .transport import MaxApi, split_text
from .uploads import upload

CHANNEL = "max"
GROUPABLE = frozenset({"image", "video"})  # a file or audio must be a message's only one
_TAG = re.compile(r"<[^>]+>")
# Telegram HTML the bot's own texts use that MAX would strip with its content.
_TG_ONLY = re.compile(r"</?(blockquote|tg-spoiler|span)[^>]*>")


class MaxChannel:
    name = CHANNEL
    platform = PLATFORM

    def __init__(self, api: MaxApi, files: Files,
                 not_ready_delays: Sequence[float] = (1.0, 2.0, 4.0, 8.0)) -> None:
        self._api = api
        self._files = files
        self._not_ready_delays = tuple(not_ready_delays)

    def rate_keys(self, chat_id: str) -> Sequence[RateKey]:
        # The transport paces every request (uploads and reads too) at the bot's budget;
        # counting sends here again would halve it.
        return ()

    def max_batch(self) -> int:
        return 1

    def can_batch(self, first: Outgoing, nxt: Outgoing) -> bool:
        return False

    def sends_for(self, items: Sequence[Outgoing]) -> int:
        return sum(len(self._plan(plain_text(i.message), list(i.message.content.attachments)))
                   for i in items)

    async def send(self, chat_id: str, items: Sequence[Outgoing]) -> list[str]:
        return [await errors.call(partial(self._send, chat_id, item), bucket=self._api.rate.key)
                for item in items]

    def _plan(self, text: str, attachments: list[Any]) -> list[tuple[str, list[Any]]]:
        """The messages one item becomes: text parts, the files on the last one (a file or
        audio alone, so each further one in a message of its own)."""
        parts = split_text(text, self._api.text_limit) if text else [""]
        if not attachments:
            return [(p, []) for p in parts]
        kinds = {a["type"] if isinstance(a, dict) else a.kind for a in attachments}
        together = all(k in GROUPABLE or k in ("photo", "sticker", "animation")
                       for k in kinds)
        groups = [attachments] if together else [[a] for a in attachments]
        plan: list[tuple[str, list[Any]]] = [(p, []) for p in parts[:-1]]
        plan.append((parts[-1], groups[0]))
        plan += [("", group) for group in groups[1:]]
        return plan

    async def _send(self, chat_id: str, item: Outgoing) -> str:
        uploaded = [await self._upload(a) for a in item.message.content.attachments]
        mids: list[str] = []
        for index, (text, attachments) in enumerate(self._plan(plain_text(item.message),
                                                               uploaded)):
            body: dict[str, Any] = {"text": html.escape(text, quote=False), "format": "html"}
            if attachments:
                body["attachments"] = attachments
            if index == 0 and item.reply_to:
                body["link"] = {"type": "reply", "mid": item.reply_to}
            mids.append(await self._post(chat_id, body))
        return mids[0]

    async def _post(self, chat_id: str, body: dict[str, Any]) -> str:
        """`POST /messages`, waiting out files MAX is still processing."""
        for delay in (*self._not_ready_delays, None):
            try:
                answer = await self._api.request("POST", "/messages", {"user_id": chat_id},
                                                 body)
                return str(answer["message"]["body"]["mid"])
            except MaxApiError as exc:
                if exc.code != NOT_READY or delay is None:
                    raise
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _upload(self, attachment: Attachment) -> dict[str, Any]:
        data = await self._files.fetch(attachment)
        return await upload(self._api, attachment.kind, data,
                            attachment.name or f"{attachment.kind}.bin")

    async def send_text(self, chat_id: str, text: str, key: int = 0,
                        choices: Sequence[Sequence[Choice]] = ()) -> str:
        markup = _TG_ONLY.sub("", text)
        board = keyboard(choices)
        if len(markup) > self._api.text_limit:  # markup can't be cut safely: send it plain
            parts = split_text(html.unescape(_TAG.sub("", text)), self._api.text_limit)
            bodies: list[dict[str, Any]] = [
                {"text": html.escape(p, quote=False), "format": "html"} for p in parts]
        else:
            bodies = [{"text": markup, "format": "html"}]
        if board is not None:
            bodies[-1]["attachments"] = [board]

        async def send() -> str:
            return [await self._post(chat_id, b) for b in bodies][0]

        return await errors.call(send, bucket=self._api.rate.key)

    async def edit(self, chat_id: str, platform_message_id: str, message: Message,
                   reply_to: str | None) -> str | None:
        text = split_text(plain_text(message), self._api.text_limit)[0]

        async def edit() -> None:
            # No `attachments` key: MAX leaves the files and buttons as they are ([] would
            # remove them all).
            await self._api.request("PUT", "/messages", {"message_id": platform_message_id},
                                    {"text": html.escape(text, quote=False), "format": "html"})

        await errors.call(edit, bucket=self._api.rate.key)
        return None


class MaxFiles:
    """The `FileSource` of MAX: attachment URLs are plain HTTPS."""

    platform = PLATFORM

    def __init__(self, api: MaxApi) -> None:
        self._api = api

    async def fetch(self, ref: str) -> bytes:
        return await self._api.download(ref)

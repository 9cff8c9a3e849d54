"""aiogram's aiohttp session, with answers that are not the Bot API's classified by status.

A proxy in front of the Bot API (Telegram's own nginx, or the one before a self-hosted
server) answers an outage with an HTML "502 Bad Gateway". aiogram tries to parse that as
JSON first and raises `ClientDecodeError`, which says nothing about the status; here a 5xx
becomes `TelegramServerError` (retried like any server error) and anything else
`NotBotApiAnswer` (the address points at something that is not a Bot API).
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramServerError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response


class NotBotApiAnswer(TelegramAPIError):
    """The server answered, but not in the Bot API's format."""

    def __init__(self, method: TelegramMethod[Any], status: int) -> None:
        super().__init__(method, f"HTTP {status}, and the answer is not the Bot API's")
        self.status = status


class BotApiSession(AiohttpSession):
    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str,
    ) -> Response[Any]:
        try:
            return super().check_response(bot, method, status_code, content)
        except ClientDecodeError as exc:
            if status_code >= 500:
                raise TelegramServerError(method, f"HTTP {status_code}") from exc
            raise NotBotApiAnswer(method, status_code) from exc

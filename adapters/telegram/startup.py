"""Startup checks: fail fast with the fix named, never a half-started bot; a server that
can't be reached is reported as such (the caller waits and tries again)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand, BotCommandScopeChat, User

from adapters.unreachable import ServerUnreachable, describe, redact, server_name

from .session import NotBotApiAnswer

# No usable answer: nothing is wrong with the configuration, the server is down or away.
UNREACHABLE = (TelegramNetworkError, TelegramServerError, TelegramRetryAfter,
               aiohttp.ClientError, TimeoutError)

logger = logging.getLogger(__name__)


class DeskSetupError(Exception):
    """The Telegram side refuses our configuration; the message says how to fix it."""


async def check_desk(bot: Bot, chat_id: int, *, polling: bool = True) -> str:
    """Check the token and the operator group; returns the bot's @username.

    Raises `DeskSetupError` for what the admin must fix, `ServerUnreachable` while the Bot
    API server gives no usable answer (connection refused, DNS, timeout, 5xx).
    """
    try:
        return await _check_desk(bot, chat_id, polling)
    except UNREACHABLE as exc:
        raise unreachable(bot, exc) from exc


def unreachable(bot: Bot, exc: BaseException) -> ServerUnreachable:
    """`exc` as a one-line `ServerUnreachable` naming the server (never the token: aiogram's
    request URLs and some aiohttp errors hold it)."""
    wait = 0.0
    if isinstance(exc, TelegramRetryAfter):
        cause, wait = f"flood control, retry in {exc.retry_after}s", float(exc.retry_after)
    elif isinstance(exc, TelegramServerError):
        cause = f"server error: {redact(exc.message, bot.token)}"
    elif isinstance(exc, TelegramNetworkError):
        cause = describe(exc.__cause__, bot.session.timeout)
    else:
        cause = describe(exc, bot.session.timeout)
    return ServerUnreachable("Telegram Bot API", "telegram.api_server",
                             server_name(bot.session.api.base), cause, wait)


async def _check_desk(bot: Bot, chat_id: int, polling: bool) -> str:
    me = await _get_me(bot)
    if polling:
        await _remove_webhook(bot)
    await _check_group(bot, me, chat_id, "operators.chat_id")
    return me.username or str(me.id)


async def check_group(bot: Bot, chat_id: int, key: str) -> None:
    """Check one more operator group (a department's, at config key `key`) like the
    operator group: a forum where the bot manages topics."""
    try:
        await _check_group(bot, await _get_me(bot), chat_id, key)
    except UNREACHABLE as exc:
        raise unreachable(bot, exc) from exc


async def _check_group(bot: Bot, me: User, chat_id: int, key: str) -> None:
    try:
        chat = await bot.get_chat(chat_id)
    except TelegramAPIError as exc:
        if isinstance(exc, UNREACHABLE):
            raise
        raise DeskSetupError(
            f"{key}: the bot can't see chat {chat_id} ({exc.message}). "
            "Add the bot to your operator supergroup and check the id."
        ) from exc
    if not chat.is_forum:
        raise DeskSetupError(
            f"{key}: chat {chat_id} is not a forum. In the group settings turn "
            "on Topics, then start relaydesk again."
        )
    member = await bot.get_chat_member(chat_id, me.id)
    if member.status != "administrator" or not getattr(member, "can_manage_topics", False):
        raise DeskSetupError(
            f"{key}: the bot must be an administrator of chat {chat_id} with the "
            "'Manage topics' right. Promote @"
            f"{me.username or me.id} in the group settings, then start relaydesk again."
        )
    if not getattr(member, "can_delete_messages", False):
        # Not fatal: only the empty duplicate of a topic whose creation answer was lost is
        # ever deleted, and Telegram may let its creator do that anyway.
        logger.warning("%s: the bot lacks the 'Delete messages' right in chat "
                       "%s; an empty duplicate topic may stay if Telegram refuses to delete "
                       "it", key, chat_id)


async def _remove_webhook(bot: Bot) -> None:
    """Telegram answers every getUpdates with 409 while a webhook is set: one left behind
    (by webhook mode, or another deployment) is removed. Its pending updates stay queued and
    come with the first getUpdates."""
    webhook = await bot.get_webhook_info()
    if webhook.url:
        logger.warning("telegram.mode is polling but a webhook is set (host %s); removing it "
                       "so that getUpdates works", urlsplit(webhook.url).hostname)
        await bot.delete_webhook(drop_pending_updates=False)


async def publish_commands(bot: Bot, chat_id: int, menu: Sequence[tuple[str, str]]) -> None:
    """The operator group's command menu: (name, summary) of the registered commands."""
    await bot.set_my_commands(
        [BotCommand(command=name, description=summary) for name, summary in menu],
        scope=BotCommandScopeChat(chat_id=chat_id),
    )


async def _get_me(bot: Bot) -> User:
    try:
        return await bot.get_me()
    except TelegramUnauthorizedError as exc:
        raise DeskSetupError(
            "telegram.token: Telegram rejected the token (401 Unauthorized). "
            "Copy it again from @BotFather, or run `relaydesk sandbox --demo` to try "
            "relaydesk without a token."
        ) from exc
    except NotBotApiAnswer as exc:
        raise DeskSetupError(
            f"telegram.api_server: {server_name(bot.session.api.base)} answered "
            f"{exc.message}. Check the address: it must be the Bot API server's base URL, "
            "e.g. https://api.telegram.org."
        ) from exc
    except TelegramAPIError as exc:
        if isinstance(exc, UNREACHABLE):
            raise
        # 404 is what Telegram answers a malformed token; a wrong address can give it too.
        raise DeskSetupError(
            f"telegram.token: {server_name(bot.session.api.base)} refused getMe "
            f"({redact(exc.message, bot.token)}). Check telegram.token, and that "
            "telegram.api_server is the Bot API server's base URL."
        ) from exc

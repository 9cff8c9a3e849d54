"""Startup checks: fail fast with the fix named, never a half-started bot."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.types import BotCommand, BotCommandScopeChat

logger = logging.getLogger(__name__)


class DeskSetupError(Exception):
    """The Telegram side refuses our configuration; the message says how to fix it."""


async def check_desk(bot: Bot, chat_id: int) -> str:
    """Check the token and the operator group; returns the bot's @username."""
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError as exc:
        raise DeskSetupError(
            "telegram.token: Telegram rejected the token (401 Unauthorized). "
            "Copy it again from @BotFather, or run `relaydesk sandbox --demo` to try "
            "relaydesk without a token."
        ) from exc
    webhook = await bot.get_webhook_info()
    if webhook.url:
        # Telegram answers every getUpdates with 409 while a webhook is set. Deleting it here
        # could silently cut off another deployment that uses it, so the admin decides.
        raise DeskSetupError(
            "telegram.mode: relaydesk polls for updates, but a webhook is set for this bot "
            f"(host {urlsplit(webhook.url).hostname}), and Telegram refuses polling while "
            "it is. Stop whatever set it and remove it with the Bot API method deleteWebhook, "
            "then start relaydesk again."
        )
    try:
        chat = await bot.get_chat(chat_id)
    except TelegramAPIError as exc:
        raise DeskSetupError(
            f"operators.chat_id: the bot can't see chat {chat_id} ({exc.message}). "
            "Add the bot to your operator supergroup and check the id."
        ) from exc
    if not chat.is_forum:
        raise DeskSetupError(
            f"operators.chat_id: chat {chat_id} is not a forum. In the group settings turn "
            "on Topics, then start relaydesk again."
        )
    member = await bot.get_chat_member(chat_id, me.id)
    if member.status != "administrator" or not getattr(member, "can_manage_topics", False):
        raise DeskSetupError(
            f"operators.chat_id: the bot must be an administrator of chat {chat_id} with the "
            "'Manage topics' right. Promote @"
            f"{me.username or me.id} in the group settings, then start relaydesk again."
        )
    if not getattr(member, "can_delete_messages", False):
        # Not fatal: only the empty duplicate of a topic whose creation answer was lost is
        # ever deleted, and Telegram may let its creator do that anyway.
        logger.warning("operators.chat_id: the bot lacks the 'Delete messages' right in chat "
                       "%s; an empty duplicate topic may stay if Telegram refuses to delete "
                       "it", chat_id)
    await bot.set_my_commands(
        [BotCommand(command="note", description="Internal note (never sent to the customer)"),
         BotCommand(command="close", description="Close this conversation")],
        scope=BotCommandScopeChat(chat_id=chat_id),
    )
    return me.username or str(me.id)

"""The Telegram customer channel: private chats with the bot.

`TelegramChannel` implements the core's ChannelPort (answers going out); `customer_router`
turns customers' updates into intake calls (messages coming in).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import CommandStart
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from adapters.telegram import errors
from adapters.telegram.convert import (
    SERVICE_TYPES,
    aware,
    content_of,
    edited_at,
    kind_of,
    profile_of,
)
from adapters.telegram.sender import PLATFORM, TelegramSender, can_batch
from core.intake.service import IntakeService
from core.model import Choice, InboundCustomerMessage, InboundEdit, InboundPress, Outgoing
from core.model import Message as CoreMessage
from core.ports import RateKey
from core.presses import Presses

CHANNEL = "telegram"
logger = logging.getLogger(__name__)
# /start, optionally @bot, optionally a deep-link payload: A-Z, a-z, 0-9, _ and -, up to
# 64 characters (Bot API docs, "Deep linking").
START = re.compile(r"/start(?:@\w+)?(?:\s+[A-Za-z0-9_-]{1,64})?", re.ASCII | re.IGNORECASE)


class TelegramChannel:
    name = CHANNEL
    platform = PLATFORM

    def __init__(self, bot: Bot, chat_limit: RateKey, bot_limit: RateKey) -> None:
        self._bot = bot
        self._sender = TelegramSender(bot)
        self._chat_limit = chat_limit
        self._bot_limit = bot_limit

    def set_limits(self, chat_limit: RateKey, bot_limit: RateKey) -> None:
        """Reloaded telegram.limits: sends from now on are paced by them."""
        self._chat_limit, self._bot_limit = chat_limit, bot_limit

    def rate_keys(self, chat_id: str) -> Sequence[RateKey]:
        return (
            RateKey(errors.chat_bucket(chat_id), self._chat_limit.count, self._chat_limit.window),
            self._bot_limit,
        )

    def max_batch(self) -> int:
        return 100

    def can_batch(self, first: Outgoing, nxt: Outgoing) -> bool:
        return can_batch(first, nxt)

    def sends_for(self, items: Sequence[Outgoing]) -> int:
        return self._sender.sends_for(items)

    async def send(self, chat_id: str, items: Sequence[Outgoing]) -> list[str | None]:
        return await errors.call(chat_id, lambda: self._sender.send(int(chat_id), None, items))

    async def send_text(self, chat_id: str, text: str, key: int = 0,
                        choices: Sequence[Sequence[Choice]] = ()) -> str:
        markup = InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=c.label, callback_data=c.payload) for c in row]
            for row in choices]) if choices else None
        return await errors.call(chat_id, lambda: self._sender.send_html(
            int(chat_id), None, text, markup))

    async def edit(self, chat_id: str, platform_message_id: str, message: CoreMessage,
                   reply_to: str | None) -> str | None:
        return await errors.call(chat_id, lambda: self._sender.edit(
            int(chat_id), None, platform_message_id, message, reply_to))


def _inbound(message: Message) -> InboundCustomerMessage:
    user = message.from_user
    assert user is not None
    reply = message.reply_to_message
    return InboundCustomerMessage(
        channel=CHANNEL, user_id=str(user.id), chat_id=str(message.chat.id),
        message_id=str(message.message_id), profile=profile_of(user),
        content=content_of(message), sent_at=aware(message.date),
        reply_to_message_id=str(reply.message_id) if reply else None,
    )


def customer_router() -> Router:
    router = Router(name="customers")

    async def private(event: Message | ChatMemberUpdated) -> bool:  # a coroutine: no thread
        return event.chat.type == ChatType.PRIVATE

    router.message.filter(private)
    router.edited_message.filter(private)
    router.my_chat_member.filter(private)

    # deep_link=None: with or without arguments (aiogram 3.31's deep_link=False refuses any,
    # so "/start ref" used to fall through to the catch-all and open a topic).
    @router.message(CommandStart(deep_link=None))
    async def on_start(message: Message, intake: IntakeService) -> None:
        # /start is not a question, nor is the payload of a deep link (t.me/bot?start=ref
        # arrives as "/start ref"): greet, and make a topic only for a real message.
        if message.text and not START.fullmatch(message.text.strip()):
            await intake.relay_customer_to_desk(_inbound(message))
            return
        await intake.greet(CHANNEL, str(message.chat.id))

    @router.message()
    async def on_customer_message(message: Message, intake: IntakeService) -> None:
        if message.from_user is None or message.from_user.is_bot:
            return
        if kind_of(message) in SERVICE_TYPES:
            return
        await intake.relay_customer_to_desk(_inbound(message))

    @router.edited_message()
    async def on_customer_edit(message: Message, intake: IntakeService) -> None:
        await intake.apply_edit(InboundEdit(
            platform=PLATFORM, chat_id=str(message.chat.id), message_id=str(message.message_id),
            content=content_of(message), edited_at=edited_at(message),
        ))

    async def private_press(query: CallbackQuery) -> bool:
        message = query.message
        return message is not None and message.chat.type == ChatType.PRIVATE

    @router.callback_query(private_press)
    async def on_press(query: CallbackQuery, presses: Presses) -> None:
        message = query.message
        answer = await presses.press(InboundPress(
            channel=CHANNEL, user_id=str(query.from_user.id),
            chat_id=str(message.chat.id) if message else str(query.from_user.id),
            payload=query.data or "", message_id=str(message.message_id) if message else None,
        ))
        try:  # after the press is committed; a late answer (after a restart) is refused
            await query.answer(answer)
        except TelegramBadRequest as exc:
            logger.info("callback query %s not answered: %s", query.id, exc.message)

    @router.my_chat_member()
    async def on_block_change(event: ChatMemberUpdated, intake: IntakeService) -> None:
        status = str(event.new_chat_member.status)
        if status in ("kicked", "left"):
            await intake.set_reachable(CHANNEL, str(event.from_user.id), False)
        elif status == "member":
            await intake.set_reachable(CHANNEL, str(event.from_user.id), True)

    return router

"""The operator desk on Telegram: one forum supergroup, one topic per conversation.

`TelegramDesk` implements the core's DeskPort (the outbox side); `desk_updates.desk_router`
turns what operators write and press in the group into core calls (the update side).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)

from adapters.telegram import errors
from adapters.telegram.captions import utf16_len, utf16_prefix
from adapters.telegram.coalesced import CoalescedPoster
from adapters.telegram.first_post import FirstPoster
from adapters.telegram.sender import PLATFORM, TelegramSender, can_batch
from core.errors import NotModified, TopicClosed, TopicMissing
from core.files import Files
from core.model import Message as CoreMessage
from core.model import Outgoing
from core.ports import RateKey

logger = logging.getLogger(__name__)

# Bot API topic icon colours; one is picked per customer so neighbours differ.
ICON_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)
# A button's callback data: this prefix and the command's name (e.g. "rd:take").
BUTTON_PREFIX = "rd:"


TITLE_LIMIT = 128


def fit_title(title: str) -> str:
    """A topic title within 128 UTF-16 code units (the conservative reading of the Bot API's
    "1-128 characters"): the name before the first " · " is shortened, the channel and
    customer number after it are kept."""
    if utf16_len(title) <= TITLE_LIMIT:
        return title
    head, sep, tail = title.partition(" · ")
    room = TITLE_LIMIT - utf16_len(sep + tail) - 1
    if not sep or room < 1:
        return title[: utf16_prefix(title, TITLE_LIMIT)]
    return head[: utf16_prefix(head, room)] + "…" + sep + tail


class TelegramDesk:
    platform = PLATFORM

    def __init__(self, bot: Bot, chat_id: int, group_limit: RateKey, bot_limit: RateKey,
                 files: Files | None = None) -> None:
        self._bot = bot
        self._chat = chat_id
        self.chat_id = str(chat_id)
        self._sender = TelegramSender(bot, files)
        self._keys = (group_limit, bot_limit)
        self._topics_made = 0
        self._controls: InlineKeyboardMarkup | None = None
        self._first = FirstPoster(bot, self._sender, chat_id, lambda: self._controls)
        self._coalesced = CoalescedPoster(bot, chat_id, lambda: self._controls)

    def set_buttons(self, buttons: Sequence[tuple[str, str]]) -> None:
        """The buttons under every customer card, (label, command name) each: the same
        commands operators can type in the topic."""
        self._controls = InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text=label, callback_data=f"{BUTTON_PREFIX}{name}")
            for label, name in buttons
        ]]) if buttons else None

    def set_limits(self, group_limit: RateKey, bot_limit: RateKey) -> None:
        """Reloaded telegram.limits: sends from now on are paced by them."""
        self._keys = (group_limit, bot_limit)

    def rate_keys(self) -> Sequence[RateKey]:
        return self._keys

    def max_batch(self) -> int:
        return 100

    def can_batch(self, first: Outgoing, nxt: Outgoing) -> bool:
        return can_batch(first, nxt)

    async def create_topic(self, title: str) -> int:
        self._topics_made += 1
        color = ICON_COLORS[self._topics_made % len(ICON_COLORS)]
        topic = await errors.call(self._chat, lambda: self._bot.create_forum_topic(
            chat_id=self._chat, name=fit_title(title), icon_color=color), desk=True)
        return topic.message_thread_id

    async def reopen_topic(self, topic_id: int) -> None:
        with contextlib.suppress(NotModified):
            await errors.call(self._chat, lambda: self._bot.reopen_forum_topic(
                chat_id=self._chat, message_thread_id=topic_id), desk=True)

    async def close_topic(self, topic_id: int) -> None:
        # Already closed or gone: closing is done either way.
        with contextlib.suppress(NotModified, TopicMissing, TopicClosed):
            await errors.call(self._chat, lambda: self._bot.close_forum_topic(
                chat_id=self._chat, message_thread_id=topic_id), desk=True)

    async def delete_topic(self, topic_id: int) -> None:
        # Gone already (an admin deleted it, or a retry of this call did): deleted either way.
        # Never a TopicMissing: the outbox would take it for the conversation's own topic.
        with contextlib.suppress(TopicMissing):
            await errors.call(self._chat, lambda: self._bot.delete_forum_topic(
                chat_id=self._chat, message_thread_id=topic_id), desk=True)

    def sends_for(self, items: Sequence[Outgoing]) -> int:
        return self._sender.sends_for(items)

    async def post(self, topic_id: int | None, items: Sequence[Outgoing]) -> list[str | None]:
        return await errors.call(
            self._chat, lambda: self._sender.send(self._chat, topic_id, items), desk=True
        )

    async def post_html(self, topic_id: int | None, html: str) -> str:
        return await errors.call(
            self._chat, lambda: self._sender.send_html(self._chat, topic_id, html), desk=True
        )

    async def post_photo(self, topic_id: int | None, png: bytes, caption_html: str) -> str:
        photo = BufferedInputFile(png, filename="chart.png")
        sent = await errors.call(self._chat, lambda: self._bot.send_photo(
            chat_id=self._chat, message_thread_id=topic_id, photo=photo,
            caption=caption_html, parse_mode="HTML"), desk=True)
        return str(sent.message_id)

    async def rename_topic(self, topic_id: int, title: str) -> None:
        await errors.call(self._chat, lambda: self._bot.edit_forum_topic(
            chat_id=self._chat, message_thread_id=topic_id, name=fit_title(title)), desk=True)

    async def post_card(self, topic_id: int, html: str) -> str:
        sent = await errors.call(self._chat, lambda: self._bot.send_message(
            chat_id=self._chat, message_thread_id=topic_id, text=html, parse_mode="HTML",
            reply_markup=self._controls), desk=True)
        return str(sent.message_id)

    async def edit_card(self, topic_id: int, post_id: str, html: str) -> None:
        await errors.call(self._chat, lambda: self._bot.edit_message_text(
            chat_id=self._chat, message_id=int(post_id), text=html, parse_mode="HTML",
            reply_markup=self._controls), desk=True)

    async def edit(self, topic_id: int | None, platform_message_id: str, message: CoreMessage,
                   reply_to: str | None) -> str | None:
        return await errors.call(self._chat, lambda: self._sender.edit(
            self._chat, topic_id, platform_message_id, message, reply_to), desk=True)

    # ---- a topic's first post: the card and the first message in one (core.delivery.first_post)

    def first_sends(self, card_html: str, item: Outgoing) -> int | None:
        return self._first.sends(card_html, item)

    async def post_first(self, topic_id: int, card_html: str, item: Outgoing) -> str:
        return await errors.call(
            self._chat, lambda: self._first.post(topic_id, card_html, item), desk=True)

    async def edit_first(self, topic_id: int, post_id: str, card_html: str,
                         message: CoreMessage, reply_to: str | None) -> str | None:
        return await errors.call(self._chat, lambda: self._first.edit(
            topic_id, post_id, card_html, message, reply_to), desk=True)

    # ---- coalesced posts: a customer's texts in one (core.delivery.coalesce)

    def coalesced_sends(self, card_html: str | None, items: Sequence[Outgoing],
                        labels: Sequence[str]) -> int | None:
        return self._coalesced.sends(card_html, items, labels)

    async def post_coalesced(self, topic_id: int, card_html: str | None,
                             items: Sequence[Outgoing], labels: Sequence[str]) -> list[str]:
        return await errors.call(self._chat, lambda: self._coalesced.post(
            topic_id, card_html, items, labels), desk=True)

    async def edit_coalesced(self, post_id: str, card_html: str | None,
                             messages: Sequence[CoreMessage], labels: Sequence[str]) -> bool:
        return await errors.call(self._chat, lambda: self._coalesced.edit(
            post_id, card_html, messages, labels), desk=True)

    async def post_correction(self, topic_id: int, post_id: str, message: CoreMessage,
                              label: str) -> str:
        return await errors.call(self._chat, lambda: self._coalesced.correction(
            topic_id, post_id, message, label), desk=True)

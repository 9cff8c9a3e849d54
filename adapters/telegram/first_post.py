"""A topic's first post on Telegram: the customer card and the customer's first message in
one message (core.delivery.first_post). A text goes under the card (split at Telegram's
limit, the rest replying to the first part); a file with a caption is copied with the card
heading its caption; the card's buttons stay under the post. Lengths are what Telegram
counts: the text after HTML parsing, in UTF-16 code units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, MessageEntity, ReplyParameters
from aiogram.utils.text_decorations import html_decoration

from adapters.telegram import captions
from adapters.telegram.captions import CAPTION_LIMIT, TEXT_LIMIT, html_len, utf16_len
from adapters.telegram.sender import CAPTIONED, TelegramSender, is_copy
from core import texts
from core.model import Message, MessageKind, Outgoing

SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class Shape:
    """How a message carries the card: `texts` (HTML messages, the card heading the first)
    or `caption` (the file copied with this HTML caption)."""

    texts: list[str]
    caption: str | None = None

    @property
    def sends(self) -> int:
        return 1 if self.caption is not None else len(self.texts)


def _room(card: str, limit: int) -> int:
    return limit - html_len(card) - utf16_len(SEPARATOR)


def _html(text: str, entities: list[MessageEntity] | None) -> str:
    return html_decoration.unparse(text, entities or [])


def _text_parts(card: str, text: str, raw_entities: list[dict[str, object]]) -> list[str]:
    """The text as HTML parts: the first fits under the card, the others alone."""
    cost: Callable[[str], int] = lambda c: 2 if ord(c) > 0xFFFF else 1  # noqa: E731
    spans = captions._spans(text, _room(card, TEXT_LIMIT), TEXT_LIMIT, cost)
    return [_html(text[start:end], captions._clip(
        raw_entities, utf16_len(text[:start]), utf16_len(text[:end]), 0))
        for start, end in spans]


def _plain_text(message: Message) -> bool:
    content = message.content
    return message.kind is MessageKind.CUSTOMER and content.content_type == "text" \
        and content.copyable and not content.attachments and not content.data.get("html") \
        and bool(content.text)


def shape(card: str, message: Message, sender: TelegramSender, reply_to: str | None = None
          ) -> Shape | None:
    """None when the message can't carry the card (an album, a sticker, a caption that
    would not fit, a file sent from another platform)."""
    content = message.content
    item = Outgoing(message, reply_to)
    if is_copy(item):
        entities = list(content.data.get("entities", []))
        if content.content_type == "text" and not content.data.get("has_caption"):
            return Shape([card + SEPARATOR + p if i == 0 else p
                          for i, p in enumerate(_text_parts(card, content.text, entities))])
        if content.content_type not in CAPTIONED or content.media_group_id:
            return None
        if utf16_len(content.text) > _room(card, CAPTION_LIMIT):
            return None
        caption = _html(content.text, captions._clip(entities, 0, utf16_len(content.text), 0))
        return Shape([], card + SEPARATOR + caption if content.text else card)
    if _plain_text(message):  # another platform's text (VK allows up to 9 000 characters)
        return Shape([card + SEPARATOR + p if i == 0 else p
                      for i, p in enumerate(_text_parts(card, content.text, []))])
    plan = sender.plan(item)
    if plan.files or not plan.texts or html_len(plan.texts[0]) > _room(card, TEXT_LIMIT):
        return None
    return Shape([card + SEPARATOR + plan.texts[0], *plan.texts[1:]])


class FirstPoster:
    def __init__(self, bot: Bot, sender: TelegramSender, chat: int,
                 controls: Callable[[], InlineKeyboardMarkup | None]) -> None:
        self._bot = bot
        self._sender = sender
        self._chat = chat
        self._controls = controls

    def sends(self, card: str, item: Outgoing) -> int | None:
        found = shape(card, item.message, self._sender, item.reply_to)
        return None if found is None else found.sends

    async def post(self, topic_id: int, card: str, item: Outgoing) -> str:
        found = shape(card, item.message, self._sender, item.reply_to)
        assert found is not None, "post_first without first_sends"
        reply = ReplyParameters(message_id=int(item.reply_to),
                                allow_sending_without_reply=True) if item.reply_to else None
        if found.caption is not None:
            source = item.message.source
            assert source is not None
            copy = await self._bot.copy_message(
                chat_id=self._chat, from_chat_id=int(source.chat_id),
                message_id=int(source.message_id), message_thread_id=topic_id,
                caption=found.caption, parse_mode="HTML", reply_parameters=reply,
                reply_markup=self._controls())
            return str(copy.message_id)
        first = await self._bot.send_message(
            chat_id=self._chat, message_thread_id=topic_id, text=found.texts[0],
            parse_mode="HTML", reply_parameters=reply, reply_markup=self._controls())
        to_first = ReplyParameters(message_id=first.message_id,
                                   allow_sending_without_reply=True)
        for part in found.texts[1:]:  # the rest of a long text answers its first part
            await self._bot.send_message(
                chat_id=self._chat, message_thread_id=topic_id, text=part,
                parse_mode="HTML", reply_parameters=to_first)
        return str(first.message_id)

    async def edit(self, topic_id: int, post_id: str, card: str, message: Message,
                   reply_to: str | None) -> str | None:
        """The post re-rendered with the new version; where it no longer fits in one
        message (or can't carry the card any more), a marked new version is posted."""
        found = shape(card, message, self._sender)
        if found is not None and found.caption is not None:
            await self._bot.edit_message_caption(
                chat_id=self._chat, message_id=int(post_id), caption=found.caption,
                parse_mode="HTML", reply_markup=self._controls())
            return None
        if found is not None and len(found.texts) == 1:
            await self._bot.edit_message_text(
                chat_id=self._chat, message_id=int(post_id), text=found.texts[0],
                parse_mode="HTML", reply_markup=self._controls())
            return None
        notice = texts.render("edited", name=message.author_name or "Customer", text="")
        await self._bot.send_message(
            chat_id=self._chat, text=notice, message_thread_id=topic_id, parse_mode="HTML",
            reply_parameters=ReplyParameters(message_id=int(post_id),
                                             allow_sending_without_reply=True))
        ids = await self._sender.send(self._chat, topic_id, [Outgoing(message, reply_to)])
        return ids[0]

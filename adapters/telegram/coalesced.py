"""Coalesced posts on Telegram (core.delivery.coalesce): a customer's consecutive texts in
one message, each part headed by its time, the card on top when the post is the topic's
first. Parts are packed into as few messages as Telegram's 4 096-character limit allows;
a part too long for any message is cut where `first_post` cuts texts."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, ReplyParameters
from aiogram.utils.text_decorations import html_decoration

from adapters.telegram import captions
from adapters.telegram.captions import TEXT_LIMIT, html_len, utf16_len
from core import texts
from core.model import Message, Outgoing

PART_GAP = "\n\n"


@dataclass(frozen=True, slots=True)
class Block:
    html: str
    size: int  # what Telegram counts: the text without tags, in UTF-16 code units
    item: int | None  # the part it starts (None: the card, or a part's continuation)


def _part_blocks(index: int, message: Message, label: str) -> list[Block]:
    content = message.content
    head = f"<i>{html.escape(label)}</i>\n"
    room = TEXT_LIMIT - utf16_len(label) - 1
    cost: Callable[[str], int] = lambda c: 2 if ord(c) > 0xFFFF else 1  # noqa: E731
    entities = list(content.data.get("entities", []))
    blocks = []
    for n, (start, end) in enumerate(captions._spans(content.text, room, TEXT_LIMIT, cost)):
        piece = content.text[start:end]
        clipped = captions._clip(entities, utf16_len(content.text[:start]),
                                 utf16_len(content.text[:end]), 0)
        body = html_decoration.unparse(piece, clipped or [])
        if n == 0:
            blocks.append(Block(head + body, utf16_len(label) + 1 + utf16_len(piece), index))
        else:
            blocks.append(Block(body, utf16_len(piece), None))
    return blocks


def pack(card: str | None, messages: Sequence[Message], labels: Sequence[str]
         ) -> list[list[Block]]:
    """The posts: blocks packed in order, each post within Telegram's limit."""
    blocks = [Block(card, html_len(card), None)] if card else []
    for index, (message, label) in enumerate(zip(messages, labels, strict=True)):
        blocks += _part_blocks(index, message, label)
    posts: list[list[Block]] = []
    size = 0
    for block in blocks:
        if posts and size + utf16_len(PART_GAP) + block.size <= TEXT_LIMIT:
            posts[-1].append(block)
            size += utf16_len(PART_GAP) + block.size
        else:
            posts.append([block])
            size = block.size
    return posts


class CoalescedPoster:
    def __init__(self, bot: Bot, chat: int,
                 controls: Callable[[], InlineKeyboardMarkup | None]) -> None:
        self._bot = bot
        self._chat = chat
        self._controls = controls

    @staticmethod
    def sends(card: str | None, items: Sequence[Outgoing], labels: Sequence[str]) -> int:
        return len(pack(card, [i.message for i in items], labels))

    async def post(self, topic_id: int, card: str | None, items: Sequence[Outgoing],
                   labels: Sequence[str]) -> list[str]:
        ids: list[str] = [""] * len(items)
        for n, post in enumerate(pack(card, [i.message for i in items], labels)):
            sent = await self._bot.send_message(
                chat_id=self._chat, message_thread_id=topic_id, parse_mode="HTML",
                text=PART_GAP.join(b.html for b in post),
                reply_markup=self._controls() if card and n == 0 else None)
            for block in post:
                if block.item is not None:
                    ids[block.item] = str(sent.message_id)
        return ids

    async def edit(self, post_id: str, card: str | None, messages: Sequence[Message],
                   labels: Sequence[str]) -> bool:
        posts = pack(card, messages, labels)
        if len(posts) != 1:
            return False
        await self._bot.edit_message_text(
            chat_id=self._chat, message_id=int(post_id), parse_mode="HTML",
            text=PART_GAP.join(b.html for b in posts[0]),
            reply_markup=self._controls() if card else None)
        return True

    async def correction(self, topic_id: int, post_id: str, message: Message,
                         label: str) -> str:
        """A marked new version of one part, answering the post it was in."""
        notice = texts.render("edited", name=message.author_name or "Customer", text="")
        to_post = ReplyParameters(message_id=int(post_id), allow_sending_without_reply=True)
        first = None
        for block in _part_blocks(0, message, label):
            text = block.html
            if first is None and html_len(notice) + block.size <= TEXT_LIMIT:
                text = notice + text
            elif first is None:
                await self._bot.send_message(
                    chat_id=self._chat, message_thread_id=topic_id, parse_mode="HTML",
                    text=notice, reply_parameters=to_post)
            sent = await self._bot.send_message(
                chat_id=self._chat, message_thread_id=topic_id, parse_mode="HTML",
                text=text, reply_parameters=to_post)
            first = first or str(sent.message_id)
        assert first is not None
        return first

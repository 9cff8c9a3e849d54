"""Putting core messages on Telegram: copy what Telegram can copy (formatting and media
survive), render the rest (placeholders, notices, other channels' messages) as HTML.
Lengths are UTF-16 code units (see `captions`).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, MessageEntity, ReplyParameters

from adapters.telegram import captions, foreign
from adapters.telegram.captions import CAPTION_LIMIT, TEXT_LIMIT, utf16_len, utf16_prefix
from core import texts
from core.files import Files
from core.model import Message, MessageKind, Outgoing

# Kinds whose caption editMessageCaption can change. Locations, venues, contacts, stickers
# and video notes have none: their edited_message updates (a live location moving, or
# "changes to message fields that are either unavailable or not actively used by your
# bot", Bot API Update docs) leave nothing to edit in the copy.
CAPTIONED = frozenset({"photo", "video", "animation", "document", "audio", "voice"})
PLATFORM = foreign.PLATFORM

logger = logging.getLogger(__name__)


def split_text(text: str, limit: int = 3900) -> list[str]:
    """Cut a long text at line or word boundaries into parts Telegram accepts (`limit` in
    UTF-16 code units)."""
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        fits = utf16_prefix(rest, limit)
        cut = rest.rfind("\n", 0, fits)
        if cut < fits // 2:
            cut = rest.rfind(" ", 0, fits)
        if cut < fits // 2:
            cut = fits
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ") if cut < len(rest) else ""
    if rest or not parts:
        parts.append(rest)
    return parts


def is_copy(item: Outgoing) -> bool:
    msg = item.message
    return (
        msg.source is not None and msg.source.platform == PLATFORM
        and msg.kind in (MessageKind.CUSTOMER, MessageKind.OPERATOR) and msg.content.copyable
    )


def can_batch(first: Outgoing, nxt: Outgoing) -> bool:
    """copyMessages takes ids of one chat, has no reply parameter and keeps albums whole.
    It copies as is, so a Premium user's long caption goes along whole."""
    return (
        is_copy(first) and is_copy(nxt) and first.reply_to is None and nxt.reply_to is None
        and first.message.source is not None and nxt.message.source is not None
        and first.message.source.chat_id == nxt.message.source.chat_id
        and int(first.message.source.message_id) < int(nxt.message.source.message_id)
    )


def needs_cut(item: Outgoing) -> bool:
    """Whether Telegram would refuse to copy this message: a caption over the bot's limit
    survives only a copy made as it is, and a reply target is a change (tdlib's
    `MessageCopyOptions::is_supported_server_side`; tdlib/telegram-bot-api#334)."""
    return item.reply_to is not None and captions.over_limit(item.message.content)


def render_html(message: Message) -> list[str]:
    """The HTML parts that stand for a message that can't be copied."""
    content = message.content
    if message.kind is MessageKind.SYSTEM or content.data.get("html"):
        return [content.text]
    name = message.author_name or "Customer"
    if foreign.is_channel_answer(message):
        return [foreign.channel_answer_html(message)]
    if not content.copyable and content.summary:
        icon, what, detail = (content.summary.split("|", 2) + ["", ""])[:3]
        return [texts.render("placeholder", icon=icon, name=name, what=what, detail=detail)]
    # Text from another platform: escape every part separately after splitting the plain text.
    return [html.escape(part, quote=False) for part in split_text(content.text)]


class TelegramSender:
    def __init__(self, bot: Bot, files: Files | None = None) -> None:
        self.bot = bot
        self._files = files

    async def send(
        self, chat_id: int, thread_id: int | None, items: Sequence[Outgoing]
    ) -> list[str | None]:
        """Post `items` (one copyMessages call when there are several); the copies' ids in
        the order of `items`, None where a copy's id is not known."""
        if len(items) > 1:
            return await self._copy_batch(chat_id, thread_id, items)
        item = items[0]
        reply = (
            ReplyParameters(message_id=int(item.reply_to), allow_sending_without_reply=True)
            if item.reply_to else None
        )
        if is_copy(item):
            return [await self._copy(chat_id, thread_id, item, reply)]
        first_id: str | None = None
        steps = self.plan(item)
        for part in steps.texts:
            sent = await self.bot.send_message(
                chat_id=chat_id, text=part, message_thread_id=thread_id, parse_mode="HTML",
                reply_parameters=reply if first_id is None else None,
            )
            first_id = first_id or str(sent.message_id)
        for index, attachment in enumerate(steps.files):
            assert self._files is not None
            sent_id = await foreign.send_file(
                self.bot, self._files, chat_id, thread_id, attachment,
                reply if first_id is None else None, steps.caption if index == 0 else None,
            )
            first_id = first_id or sent_id
        return [first_id or ""]

    async def _copy_batch(
        self, chat_id: int, thread_id: int | None, items: Sequence[Outgoing]
    ) -> list[str | None]:
        source = items[0].message.source
        assert source is not None
        wanted = [int(i.message.source.message_id) for i in items]  # type: ignore[union-attr]
        try:
            ids = await self.bot.copy_messages(
                chat_id=chat_id, from_chat_id=int(source.chat_id), message_ids=wanted,
                message_thread_id=thread_id,
            )
        except TelegramBadRequest as exc:
            if not captions.refused(exc):
                raise
            # Telegram counts a change here that we don't: one by one, each cut if need be
            # (an album comes apart, nothing is lost).
            logger.warning("copyMessages to %s refused a long caption among %s: copying "
                           "one by one", chat_id, wanted)
            return [(await self.send(chat_id, thread_id, [item]))[0] for item in items]
        if len(ids) == len(wanted):
            return [str(i.message_id) for i in ids]
        # copyMessages skips messages it can't find or copy (e.g. the customer deleted
        # one after sending it) and answers only the copies' ids, without saying which
        # sources they belong to. Guessing by position would link a copy to the wrong
        # message, and a later edit or reply would land on it; no link is the honest
        # outcome (edits of these messages are then not relayed).
        logger.warning("copyMessages to %s copied %d of %d messages %s; their copies are "
                       "not linked", chat_id, len(ids), len(wanted), wanted)
        return [None] * len(items)

    async def _copy(self, chat_id: int, thread_id: int | None, item: Outgoing,
                    reply: ReplyParameters | None) -> str:
        """The copy's id; a caption Telegram won't carry goes out cut, the rest after it."""
        source, content = item.message.source, item.message.content
        assert source is not None
        strict = False  # measure in UTF-8 bytes: Telegram counted longer than we did
        if not needs_cut(item):
            try:
                result = await self.bot.copy_message(
                    chat_id=chat_id, from_chat_id=int(source.chat_id),
                    message_id=int(source.message_id), message_thread_id=thread_id,
                    reply_parameters=reply,
                )
                return str(result.message_id)
            except TelegramBadRequest as exc:
                if not (captions.refused(exc) and content.data.get("has_caption")):
                    raise
                # Telegram saw a change (a long caption) or a length (a short one) that we
                # did not: cut it after all.
                logger.info("Telegram refused the caption of message %s as too long: cut",
                            item.message.id)
                strict = not captions.over_limit(content)
        try:
            return await self._copy_cut(chat_id, thread_id, item, reply, strict=strict)
        except TelegramBadRequest as exc:
            if strict or not captions.refused(exc):
                raise
            # Telegram counts even the cut caption longer than we do: the strictest count.
            logger.info("Telegram refused the cut caption of message %s: cut shorter",
                        item.message.id)
            return await self._copy_cut(chat_id, thread_id, item, reply, strict=True)

    async def _copy_cut(self, chat_id: int, thread_id: int | None, item: Outgoing,
                        reply: ReplyParameters | None, *, strict: bool) -> str:
        """The file with its caption cut, then the rest replying to it (the link, and so
        later edits and replies, stay with the file)."""
        source, content = item.message.source, item.message.content
        assert source is not None
        head, rest = captions.cut(content.text, content.data.get("entities", []),
                                  strict=strict)
        copy = await self.bot.copy_message(
            chat_id=chat_id, from_chat_id=int(source.chat_id),
            message_id=int(source.message_id), message_thread_id=thread_id,
            reply_parameters=reply, caption=head.text, caption_entities=head.entities,
            parse_mode=None,
        )
        to_file = ReplyParameters(message_id=copy.message_id, allow_sending_without_reply=True)
        for part in rest:
            await self.bot.send_message(
                chat_id=chat_id, text=part.text, entities=part.entities, parse_mode=None,
                message_thread_id=thread_id, reply_parameters=to_file,
            )
        return str(copy.message_id)

    def plan(self, item: Outgoing) -> foreign.Plan:
        """How a message that can't be copied is put on Telegram."""
        return foreign.plan(render_html(item.message), item.message, item.reply_to,
                            self._files is not None)

    def sends_for(self, items: Sequence[Outgoing]) -> int:
        """How many messages `send(items)` puts into the chat (what the limits count)."""
        if len(items) > 1:
            return len(items)  # copyMessages
        item = items[0]
        if is_copy(item):
            if not needs_cut(item):
                return 1
            content = item.message.content
            return 1 + len(captions.cut(content.text, content.data.get("entities", []))[1])
        return max(self.plan(item).sends, 1)

    async def send_html(self, chat_id: int, thread_id: int | None, text: str,
                        markup: InlineKeyboardMarkup | None = None) -> str:
        """Bot-authored HTML, split where needed; `markup` goes under the last part."""
        first_id: str | None = None
        parts = _split_html(text)
        for index, part in enumerate(parts):
            sent = await self.bot.send_message(
                chat_id=chat_id, text=part, message_thread_id=thread_id, parse_mode="HTML",
                reply_markup=markup if index == len(parts) - 1 else None,
            )
            first_id = first_id or str(sent.message_id)
        return first_id or ""

    async def edit(
        self, chat_id: int, thread_id: int | None, copy_id: str, message: Message,
        reply_to: str | None,
    ) -> str | None:
        """Edit the copy in place; where Telegram can't, post a marked "edited" copy.

        A copy whose caption was cut keeps its continuation: it has no link of its own, so
        an edit that fits the caption leaves the old continuation as it was.
        """
        try:
            if await self._edit_in_place(chat_id, copy_id, message, reply_to):
                return None
        except TelegramBadRequest as exc:
            if not captions.refused(exc):
                raise
            # Telegram counts the new caption as longer than we did: a new copy.
            logger.info("Telegram refused the edited caption of message %s: reposted",
                        message.id)
        notice = texts.render("edited", name=message.author_name or "Customer", text="")
        await self.bot.send_message(
            chat_id=chat_id, text=notice, message_thread_id=thread_id, parse_mode="HTML",
            reply_parameters=ReplyParameters(message_id=int(copy_id),
                                             allow_sending_without_reply=True),
        )
        ids = await self.send(chat_id, thread_id, [Outgoing(message, reply_to)])
        return ids[0]

    async def _edit_in_place(self, chat_id: int, copy_id: str, message: Message,
                             reply_to: str | None) -> bool:
        """False when the new version can't replace the copy's (then it is posted anew)."""
        content = message.content
        if not content.copyable:
            return True
        if message.source is not None and message.source.platform != PLATFORM:
            # Another platform's message was rendered as HTML: render the new version.
            steps = self.plan(Outgoing(message, reply_to))
            if steps.caption is not None:
                await self.bot.edit_message_caption(
                    chat_id=chat_id, message_id=int(copy_id), caption=steps.caption,
                    parse_mode="HTML",
                )
                return True
            if len(steps.texts) == 1 and content.text:
                await self.bot.edit_message_text(
                    chat_id=chat_id, message_id=int(copy_id), text=steps.texts[0],
                    parse_mode="HTML",
                )
                return True
        entities = [MessageEntity.model_validate(e) for e in content.data.get("entities", [])]
        if content.data.get("has_caption") and content.content_type not in CAPTIONED:
            return True
        if not content.data.get("has_caption"):
            if utf16_len(content.text) > TEXT_LIMIT:
                return False
            await self.bot.edit_message_text(
                chat_id=chat_id, message_id=int(copy_id), text=content.text,
                entities=entities or None, parse_mode=None,
            )
            return True
        if utf16_len(content.text) > CAPTION_LIMIT:
            return False
        await self.bot.edit_message_caption(
            chat_id=chat_id, message_id=int(copy_id), caption=content.text,
            caption_entities=entities or None, parse_mode=None,
        )
        return True


def _split_html(text: str) -> list[str]:
    # Our own notices are short; a long one is split only at line breaks so no tag is cut.
    if utf16_len(text) <= TEXT_LIMIT:
        return [text]
    parts, current = [], ""
    for line in text.split("\n"):
        if current and utf16_len(current) + utf16_len(line) + 1 > TEXT_LIMIT:
            parts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    parts.append(current)
    return [p[: utf16_prefix(p, TEXT_LIMIT)] for p in parts]

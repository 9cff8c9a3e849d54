"""Messages from other platforms (VK) in the operator desk: they can't be copied, so they
are rendered as HTML and their files uploaded — one caption-carrying message when the text
fits under the file, as few sends as the Telegram group limit allows."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, Message, ReplyParameters

from adapters.telegram import captions
from core import texts
from core.files import Files
from core.model import Attachment, MessageKind
from core.model import Message as CoreMessage

PLATFORM = "telegram"
CAPTIONED = frozenset({"photo", "document", "voice", "video", "audio", "animation"})


def is_channel_answer(message: CoreMessage) -> bool:
    """An answer an operator typed on the customer's channel (VK's web inbox)."""
    return (message.kind is MessageKind.OPERATOR and message.source is not None
            and message.source.platform != PLATFORM)


def channel_answer_html(message: CoreMessage) -> str:
    assert message.source is not None
    return texts.render("channel_answer", name=message.author_name or "Operator",
                        text=message.content.text,
                        channel_label=texts.channel_label(message.source.platform))


@dataclass(frozen=True, slots=True)
class Plan:
    """The sends that put one foreign message into a topic, in order."""

    texts: list[str]  # HTML messages first
    files: tuple[Attachment, ...]  # then one upload per file
    caption: str | None = None  # the HTML text as the first file's caption instead

    @property
    def sends(self) -> int:
        return len(self.texts) + len(self.files)


def plan(parts: list[str], message: CoreMessage, reply_to: str | None,
         with_files: bool) -> Plan:
    """`parts` are the message's HTML parts (see `sender.render_html`)."""
    content = message.content
    files = content.attachments if with_files else ()
    if files and not content.text and not is_channel_answer(message):
        parts = []  # a file alone: no empty text before it
    if content.quote and reply_to is None and message.kind is not MessageKind.SYSTEM:
        block = f"<blockquote>{html.escape(content.quote[:500], quote=False)}</blockquote>"
        parts = [f"{block}\n{parts[0]}" if parts else block, *parts[1:]]
    # Telegram measures the caption's text, not our HTML, in UTF-16 units.
    if (len(files) == 1 and files[0].kind in CAPTIONED and len(parts) == 1
            and captions.html_len(parts[0]) <= captions.CAPTION_LIMIT):
        return Plan([], files, parts[0])
    return Plan(parts, files)


async def send_file(bot: Bot, files: Files, chat_id: int, thread_id: int | None,
                    attachment: Attachment, reply: ReplyParameters | None,
                    caption: str | None) -> str:
    """Upload a file from another platform (Telegram can't fetch from e.g. VK's servers for
    us, and their URLs may be short-lived)."""
    data = await files.fetch(attachment)
    try:
        return await _upload(bot, data, chat_id, thread_id, attachment, reply, caption)
    except TelegramBadRequest as exc:
        if caption is None or not captions.refused(exc):
            raise
    # Telegram counts the caption longer than we did: the file alone, the text replying to it.
    sent_id = await _upload(bot, data, chat_id, thread_id, attachment, reply, None)
    await bot.send_message(
        chat_id=chat_id, text=caption, parse_mode="HTML", message_thread_id=thread_id,
        reply_parameters=ReplyParameters(message_id=int(sent_id),
                                         allow_sending_without_reply=True),
    )
    return sent_id


async def _upload(bot: Bot, data: bytes, chat_id: int, thread_id: int | None,
                  attachment: Attachment, reply: ReplyParameters | None,
                  caption: str | None) -> str:
    upload = BufferedInputFile(data, filename=attachment.name or f"{attachment.kind}.bin")
    common: dict[str, Any] = {"chat_id": chat_id, "message_thread_id": thread_id,
                              "reply_parameters": reply}
    if caption is not None:
        common.update(caption=caption, parse_mode="HTML")
    kind = attachment.kind
    sent: Message
    if kind in ("photo", "sticker"):  # other platforms' stickers are plain images here
        sent = await bot.send_photo(photo=upload, **common)
    elif kind == "voice":
        sent = await bot.send_voice(voice=upload, **common)
    elif kind == "video":
        sent = await bot.send_video(video=upload, **common)
    else:
        sent = await bot.send_document(document=upload, **common)
    return str(sent.message_id)

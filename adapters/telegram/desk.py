"""The operator desk on Telegram: one forum supergroup, one topic per conversation.

`TelegramDesk` implements the core's DeskPort (the outbox side); `desk_router` turns what
operators write in topics into intake calls (the update side).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from adapters.telegram import errors
from adapters.telegram.captions import utf16_len, utf16_prefix
from adapters.telegram.convert import SERVICE_TYPES, aware, content_of, edited_at, kind_of
from adapters.telegram.sender import PLATFORM, TelegramSender, can_batch
from core.delivery.orphans import OrphanTopics
from core.errors import NotModified, TopicClosed, TopicMissing
from core.files import Files
from core.intake.service import IntakeService
from core.model import InboundEdit, InboundOperatorMessage, Outgoing
from core.model import Message as CoreMessage
from core.ports import RateKey
from core.sla.controls import DeskControls

logger = logging.getLogger(__name__)

# Bot API topic icon colours; one is picked per customer so neighbours differ.
ICON_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)
# The buttons under every customer card; the same actions as /take, /snooze 1h, /close,
# /reopen typed in the topic.
CONTROLS = InlineKeyboardMarkup(inline_keyboard=[[
    InlineKeyboardButton(text="🙋 Take", callback_data="rd:take"),
    InlineKeyboardButton(text="💤 1h", callback_data="rd:snooze"),
    InlineKeyboardButton(text="✅ Close", callback_data="rd:close"),
    InlineKeyboardButton(text="🔓 Reopen", callback_data="rd:reopen"),
]])


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
            reply_markup=CONTROLS), desk=True)
        return str(sent.message_id)

    async def edit(self, topic_id: int | None, platform_message_id: str, message: CoreMessage,
                   reply_to: str | None) -> str | None:
        return await errors.call(self._chat, lambda: self._sender.edit(
            self._chat, topic_id, platform_message_id, message, reply_to), desk=True)


CONTROL_ANSWERS = {"take": "Assigned to you", "snooze": "Snoozed for 1 hour",
                   "close": "Closed", "reopen": "Reopen requested"}


def _operator(message: Message) -> tuple[str, str] | None:
    """Who acts as an operator here, or None for anything that must never reach a customer."""
    if message.sender_chat is not None:
        # Anonymous group admins post as the group itself; other chats (linked channels) no.
        if message.sender_chat.id == message.chat.id:
            return str(message.chat.id), "Anonymous admin"
        return None
    user = message.from_user
    if user is None or user.is_bot:
        return None
    return str(user.id), user.full_name


def _inbound(message: Message, operator: tuple[str, str], text: str | None = None
             ) -> InboundOperatorMessage:
    content = content_of(message)
    if text is not None:
        content = type(content)(content_type="text", text=text, data={"entities": []})
    reply = message.reply_to_message
    reply_id = None
    # In a forum every message "replies" to the topic's creation message; only a reply to a
    # real message in the topic threads the answer.
    if reply is not None and reply.message_id != message.message_thread_id:
        reply_id = str(reply.message_id)
    return InboundOperatorMessage(
        platform=PLATFORM, chat_id=str(message.chat.id),
        thread_id=int(message.message_thread_id or 0), message_id=str(message.message_id),
        operator_id=operator[0], operator_name=operator[1], content=content,
        sent_at=aware(message.date), reply_to_message_id=reply_id,
    )


async def _answer(query: CallbackQuery, text: str = "") -> None:
    """Answer a button press; the action is already committed by then. Telegram refuses late
    answers ("query is too old and response timeout expired or query ID is invalid", e.g.
    after a restart); failing the update for that would handle the press again."""
    try:
        await query.answer(text)
    except TelegramBadRequest as exc:
        logger.info("callback query %s not answered: %s", query.id, exc.message)


def desk_router(chat_id: int) -> Router:
    router = Router(name="desk")

    # Filters are coroutines: aiogram 3 runs a plain function (a magic filter `F.…`
    # included) in a worker thread, a thread hop for every update.
    async def in_desk(event: Message) -> bool:
        return event.chat.id == chat_id

    async def desk_control(query: CallbackQuery) -> bool:
        message = query.message
        return bool(query.data and query.data.startswith("rd:")) and message is not None \
            and message.chat.id == chat_id

    # Telegram tells the bot about each topic it creates itself; a topic a person made is
    # never ours to adopt or delete.
    async def own_topic_created(event: Message, bot: Bot) -> bool:
        user = event.from_user
        return event.forum_topic_created is not None and user is not None \
            and user.id == bot.id

    router.message.filter(in_desk)
    router.edited_message.filter(in_desk)

    @router.message(own_topic_created)
    async def on_own_topic_created(message: Message, orphans: OrphanTopics) -> None:
        created = message.forum_topic_created
        assert created is not None
        fate = await orphans.topic_created(message.message_thread_id or message.message_id,
                                           created.name)
        logger.debug("topic %s created by the bot: %s", message.message_thread_id, fate)

    @router.message()
    async def on_topic_message(message: Message, intake: IntakeService,
                               controls: DeskControls) -> None:
        text = message.text or ""
        command, _, rest = text.partition(" ")
        command = command.split("@", 1)[0].lower()
        in_topic = message.is_topic_message and message.message_thread_id
        if command == "/report" and _operator(message) is not None:
            await controls.report(rest.strip().lower() or "today",
                                  message.message_thread_id if in_topic else None)
            return
        if not in_topic or not message.message_thread_id:
            return  # the General topic is for people, never relayed
        if kind_of(message) in SERVICE_TYPES:
            return
        operator = _operator(message)
        if operator is None:
            return
        topic = message.message_thread_id
        if command == "/note":
            await intake.add_note(_inbound(message, operator, rest.strip()))
        elif command == "/close":
            await intake.close_conversation(topic, *operator)
        elif command == "/take":
            await controls.take(topic, *operator)
        elif command == "/reopen":
            await controls.reopen(topic, operator[1])
        elif command == "/snooze":
            await controls.snooze(topic, operator[1], rest)
        elif command == "/link":
            # `/link 57`: this topic's customer and customer #57 are the same person.
            number = rest.strip().lstrip("#")
            if number.isdigit():
                await intake.link_customers(topic, int(number), operator[1])
        else:
            result = await intake.relay_operator_to_customer(_inbound(message, operator))
            logger.debug("operator message %s: %s", message.message_id, result.outcome)

    @router.callback_query(desk_control)
    async def on_control(query: CallbackQuery, intake: IntakeService,
                         controls: DeskControls) -> None:
        user, message = query.from_user, query.message
        topic = getattr(message, "message_thread_id", None)
        if user.is_bot or not topic:
            await _answer(query)
            return
        operator = (str(user.id), user.full_name)
        action = (query.data or "").removeprefix("rd:")
        if action == "take":
            await controls.take(topic, *operator)
        elif action == "snooze":
            await controls.snooze(topic, operator[1], "1h")
        elif action == "close":
            await intake.close_conversation(topic, *operator)
        elif action == "reopen":
            await controls.reopen(topic, operator[1])
        await _answer(query, CONTROL_ANSWERS.get(action, ""))

    @router.edited_message()
    async def on_operator_edit(message: Message, intake: IntakeService) -> None:
        if not message.is_topic_message or _operator(message) is None:
            return
        await intake.apply_edit(InboundEdit(
            platform=PLATFORM, chat_id=str(message.chat.id), message_id=str(message.message_id),
            content=content_of(message), edited_at=edited_at(message),
        ))

    return router

"""What operators write and press in the operator group, turned into core calls.

A typed `/name args` or a button under a customer card runs the command registered under
that name (`core.commands`: who may, where, what); anything else an operator writes in a
conversation's topic is relayed to the customer. The General topic is for people: only
commands run there.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from adapters.telegram.convert import SERVICE_TYPES, aware, content_of, edited_at, kind_of
from adapters.telegram.desk import BUTTON_PREFIX
from adapters.telegram.sender import PLATFORM
from core.commands import Commands, Invocation, Outcome
from core.delivery.orphans import OrphanTopics
from core.intake.service import IntakeService
from core.model import InboundEdit, InboundOperatorMessage

logger = logging.getLogger(__name__)


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


def _command(text: str) -> tuple[str, str] | None:
    """`/name@bot args` → (name, args); None for text that is not a command."""
    if not text.startswith("/"):
        return None
    head, _, args = text.partition(" ")
    return head[1:].split("@", 1)[0].lower(), args.strip()


async def _answer(query: CallbackQuery, text: str = "") -> None:
    """Answer a button press; the action is already committed by then. Telegram refuses late
    answers ("query is too old and response timeout expired or query ID is invalid", e.g.
    after a restart); failing the update for that would handle the press again."""
    try:
        await query.answer(text)
    except TelegramBadRequest as exc:
        logger.info("callback query %s not answered: %s", query.id, exc.message)


async def _run_command(message: Message, commands: Commands, operator: tuple[str, str],
                       topic: int | None, desk_chat: str | None) -> bool:
    """Run a typed command; False when the text is no command of ours (it is a message)."""
    parsed = _command(message.text or "")
    if parsed is None:
        return False
    name, args = parsed
    invocation = Invocation(operator[0], operator[1], topic, args,
                            message=_inbound(message, operator, args) if topic else None,
                            desk_chat=desk_chat)
    outcome = await commands.run(name, invocation)
    return outcome is not Outcome.UNKNOWN


def desk_router(chat_id: int, groups: Collection[int] = ()) -> Router:
    """`chat_id`: the operator group; `groups`: departments' own groups, where operators
    work the same way (their topics' conversations are scoped by the group)."""
    router = Router(name="desk")
    chats = frozenset({chat_id, *groups})

    def scope(chat: int) -> str | None:
        return None if chat == chat_id else str(chat)

    # Filters are coroutines: aiogram 3 runs a plain function (a magic filter `F.…`
    # included) in a worker thread, a thread hop for every update.
    async def in_desk(event: Message) -> bool:
        return event.chat.id in chats

    async def desk_button(query: CallbackQuery) -> bool:
        message = query.message
        return bool(query.data and query.data.startswith(BUTTON_PREFIX)) \
            and message is not None and message.chat.id in chats

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
                                           created.name, scope(message.chat.id))
        logger.debug("topic %s created by the bot: %s", message.message_thread_id, fate)

    @router.message()
    async def on_desk_message(message: Message, intake: IntakeService,
                              commands: Commands) -> None:
        operator = _operator(message)
        topic = message.message_thread_id if message.is_topic_message else None
        if operator is None or kind_of(message) in SERVICE_TYPES:
            return
        if await _run_command(message, commands, operator, topic, scope(message.chat.id)):
            return
        if not topic:
            return  # the General topic is for people, never relayed
        result = await intake.relay_operator_to_customer(_inbound(message, operator))
        logger.debug("operator message %s: %s", message.message_id, result.outcome)

    @router.callback_query(desk_button)
    async def on_button(query: CallbackQuery, commands: Commands) -> None:
        user, message = query.from_user, query.message
        topic = getattr(message, "message_thread_id", None)
        if user.is_bot or not topic:
            await _answer(query)
            return
        name = (query.data or "").removeprefix(BUTTON_PREFIX)
        chat = message.chat.id if message is not None else chat_id
        _, answer = await commands.press(name, Invocation(str(user.id), user.full_name, topic,
                                                          desk_chat=scope(chat)))
        await _answer(query, answer)

    @router.edited_message()
    async def on_operator_edit(message: Message, intake: IntakeService) -> None:
        if not message.is_topic_message or _operator(message) is None:
            return
        await intake.apply_edit(InboundEdit(
            platform=PLATFORM, chat_id=str(message.chat.id), message_id=str(message.message_id),
            content=content_of(message), edited_at=edited_at(message),
        ))

    return router

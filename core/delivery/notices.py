"""System notices: bot-authored posts in a conversation's operator topic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.model import DESK, Action, Content, MessageKind, desk_lane
from core.ports import StorePort


async def enqueue_notice(
    store: StorePort, now: datetime, desk_chat_id: str, conversation_id: int, html: str
) -> int:
    """Store a system message in the conversation and queue it for its topic.

    Call inside the caller's transaction; `html` is already rendered and escaped.
    """
    message = await store.add_message(
        conversation_id, MessageKind.SYSTEM, None, None,
        _notice_content(html), None, None, now,
    )
    await store.enqueue(
        lane=desk_lane(conversation_id), target=DESK, chat_id=desk_chat_id,
        action=Action.RELAY, now=now, message_id=message.id, conversation_id=conversation_id,
    )
    return message.id


async def enqueue_notices(
    store: StorePort, now: datetime, desk_chat_id: str, notices: Sequence[tuple[int, str]]
) -> None:
    """`enqueue_notice` for many (conversation id, html) at once: two statements, not two per
    notice (a sweep may remind a thousand conversations). Call inside a transaction."""
    if not notices:
        return
    ids = await store.add_system_messages(
        [(conversation_id, _notice_content(html)) for conversation_id, html in notices], now
    )
    await store.enqueue_relays(
        [(desk_lane(conversation_id), DESK, desk_chat_id, message_id, conversation_id)
         for (conversation_id, _), message_id in zip(notices, ids, strict=True)], now,
    )


def _notice_content(html: str) -> Content:
    return Content(content_type="text", text=html, data={"html": True})


async def enqueue_reopen_topic(
    store: StorePort, now: datetime, desk_chat_id: str, conversation_id: int
) -> None:
    """Queue reopening the conversation's topic before anything else is posted in it.

    Done explicitly, never left to a send failing with TOPIC_CLOSED: whether Telegram lets
    an admin bot post into a closed topic is undocumented, and if it does, the topic would
    stay closed to operators who are not admins. Call inside the caller's transaction.
    """
    await store.enqueue(
        lane=desk_lane(conversation_id), target=DESK, chat_id=desk_chat_id,
        action=Action.REOPEN_TOPIC, now=now, conversation_id=conversation_id,
    )


async def enqueue_general(
    store: StorePort, now: datetime, desk_chat_id: str, html: str, *,
    topic_id: int | None = None, png: str | None = None,
) -> int:
    """Queue a bot post that belongs to no conversation: the General topic (or `topic_id`),
    optionally a base64 PNG with `html` as its caption. Call inside a transaction."""
    body: dict[str, Any] = {"html": html}
    if topic_id is not None:
        body["topic_id"] = topic_id
    if png is not None:
        body["png"] = png
    return await store.enqueue(lane=desk_lane(None), target=DESK, chat_id=desk_chat_id,
                               action=Action.TEXT, now=now, body=body)

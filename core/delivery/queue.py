"""Queueing posts in the outbox, inside a unit of work: what every capability sends.

Bot-authored posts go through here, never straight to a platform: a notice in a
conversation's topic, a post in General, a text to a customer, closing or reopening a
topic. Each row is written in the unit's transaction and the unit wakes the outbox for it
once committed. (Relays of customer and operator messages are intake's own, on its hot
path.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.delivery.ports import DeliveryStore
from core.model import (
    DESK,
    Action,
    Choice,
    Content,
    DeskPost,
    MessageKind,
    channel_lane,
    desk_lane,
)
from core.ports import MessageStore
from core.unit import Unit


class QueueStore(MessageStore, DeliveryStore, Protocol):
    """Notices are messages of their conversation, then deliveries."""


def _notice_content(html: str) -> Content:
    return Content(content_type="text", text=html, data={"html": True})


class Queue:
    def __init__(self, store: QueueStore, desk_chat_id: str) -> None:
        self._store = store
        self.desk_chat = desk_chat_id

    async def notice(self, unit: Unit, conversation_id: int, html: str) -> int:
        """A system message in the conversation, posted in its topic; `html` is rendered
        and escaped already. Returns the message's id."""
        message = await self._store.add_message(
            conversation_id, MessageKind.SYSTEM, None, None, _notice_content(html), None,
            None, unit.now,
        )
        await self._desk_row(unit, conversation_id, Action.RELAY, message_id=message.id)
        return message.id

    async def notices(self, unit: Unit, items: Sequence[tuple[int, str]]) -> None:
        """`notice` for many (conversation id, html) at once: two statements, not two per
        notice (a sweep may remind a thousand conversations)."""
        if not items:
            return
        ids = await self._store.add_system_messages(
            [(conversation_id, _notice_content(html)) for conversation_id, html in items],
            unit.now)
        await self._store.enqueue_relays(
            [(desk_lane(conversation_id), DESK, self.desk_chat, message_id, conversation_id)
             for (conversation_id, _), message_id in zip(items, ids, strict=True)], unit.now)
        unit.touched.add(DESK)

    async def notice_in_closed_topic(self, unit: Unit, conversation_id: int, html: str,
                                     *, edit_card: bool = False) -> None:
        """A notice for a closed conversation (a rating, a ban) whose topic /close closed:
        reopened for it and closed again, so operators don't find it open; `edit_card`:
        its card is rendered again while the topic is open."""
        await self.reopen_topic(unit, conversation_id)
        if edit_card:
            await self.edit_card(unit, conversation_id)
        await self.notice(unit, conversation_id, html)
        await self.close_topic(unit, conversation_id)

    async def general(self, unit: Unit, post: DeskPost, desk_chat: str | None = None) -> int:
        """A bot post that belongs to no conversation: General (or `post.topic_id`) of the
        operator group, or of a department's group `desk_chat` (its own lane: one group's
        posts never wait behind another's)."""
        unit.touched.add(DESK)
        lane = desk_lane(None) if desk_chat is None else f"{desk_lane(None)}:{desk_chat}"
        return await self._store.enqueue(
            lane=lane, target=DESK, chat_id=desk_chat or self.desk_chat, action=Action.TEXT,
            now=unit.now, body=post.to_body())

    async def close_topic(self, unit: Unit, conversation_id: int, *,
                          topic_id: int | None = None, desk_chat: str | None = None) -> None:
        """Close the conversation's topic, or (`topic_id`) a topic it left behind in group
        `desk_chat` (None: the operator group), in its lane's order."""
        if topic_id is None:
            await self._desk_row(unit, conversation_id, Action.CLOSE_TOPIC)
            return
        unit.touched.add(DESK)
        await self._store.enqueue(
            lane=desk_lane(conversation_id), target=DESK, chat_id=desk_chat or self.desk_chat,
            action=Action.CLOSE_TOPIC, now=unit.now, conversation_id=conversation_id,
            body={"topic_id": topic_id})

    async def topic_post(self, unit: Unit, conversation_id: int, post: DeskPost,
                         desk_chat: str | None) -> None:
        """A post in topic `post.topic_id` of group `desk_chat` (None: the operator group)
        in the conversation's lane, after what is queued there (e.g. the pointer left in a
        topic the conversation moves away from)."""
        unit.touched.add(DESK)
        await self._store.enqueue(
            lane=desk_lane(conversation_id), target=DESK, chat_id=desk_chat or self.desk_chat,
            # No conversation on the row: a failure must not touch its topic (this is
            # another one), and a post into a topic that is gone is given up.
            action=Action.TEXT, now=unit.now, body=post.to_body())

    async def reopen_topic(self, unit: Unit, conversation_id: int) -> None:
        """Reopening a topic closed by /close goes before anything else is posted in it.

        Done explicitly, never left to a send failing with TOPIC_CLOSED: whether Telegram
        lets an admin bot post into a closed topic is undocumented, and if it does, the
        topic would stay closed to operators who are not admins."""
        await self._desk_row(unit, conversation_id, Action.REOPEN_TOPIC)

    async def delete_orphan_topic(self, unit: Unit, conversation_id: int, topic_id: int,
                                  desk_chat: str | None = None) -> None:
        """Delete a topic the bot made in group `desk_chat` (None: the operator group) that
        no conversation keeps (see delivery.orphans), in the conversation's lane."""
        unit.touched.add(DESK)
        await self._store.enqueue(
            lane=desk_lane(conversation_id), target=DESK, chat_id=desk_chat or self.desk_chat,
            action=Action.DELETE_TOPIC, now=unit.now, conversation_id=conversation_id,
            body={"topic_id": topic_id})

    async def edit(self, unit: Unit, *, lane: str, target: str, chat_id: str,
                   message_id: int, conversation_id: int, file_replaced: bool) -> None:
        """Apply a message's edit to its copy (in the copy's lane: FIFO puts it after the
        copy)."""
        unit.touched.add(target)
        await self._store.enqueue(
            lane=lane, target=target, chat_id=chat_id, action=Action.EDIT, now=unit.now,
            message_id=message_id, conversation_id=conversation_id,
            body={"file_replaced": True} if file_replaced else None)

    async def text_to_customer(self, unit: Unit, channel: str, chat_id: str, text: str,
                               choices: Sequence[Sequence[Choice]] = ()) -> None:
        """A bot-authored text in the customer's chat (a greeting, an acknowledgement, an
        answer), with buttons under it in rows when `choices` (see core.presses)."""
        unit.touched.add(channel)
        body: dict[str, object] = {"text": text}
        if choices:
            body["choices"] = [[{"label": c.label, "payload": c.payload} for c in row]
                               for row in choices]
        await self._store.enqueue(
            lane=channel_lane(channel, chat_id), target=channel, chat_id=chat_id,
            action=Action.TEXT, now=unit.now, body=body)

    async def edit_card(self, unit: Unit, conversation_id: int,
                        at: datetime | None = None) -> None:
        """Render the conversation's posted card again, now (after what its topic was sent
        so far) or `at` (in a lane of its own, so the topic's posts never wait for it)."""
        if at is None:
            await self._desk_row(unit, conversation_id, Action.EDIT_CARD)
            return
        await self._store.enqueue(
            lane=f"{desk_lane(conversation_id)}:card", target=DESK, chat_id=self.desk_chat,
            action=Action.EDIT_CARD, now=unit.now, conversation_id=conversation_id,
            not_before=at)

    async def _desk_row(self, unit: Unit, conversation_id: int, action: Action, *,
                        message_id: int | None = None,
                        body: dict[str, object] | None = None) -> None:
        unit.touched.add(DESK)
        await self._store.enqueue(
            lane=desk_lane(conversation_id), target=DESK, chat_id=self.desk_chat,
            action=action, now=unit.now, message_id=message_id,
            conversation_id=conversation_id, body=body)

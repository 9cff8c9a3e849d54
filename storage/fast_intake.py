"""Intake's common cases in one round trip, on PostgreSQL (the functions of migration 0004,
scoped to departments' groups by 0021).

On PostgreSQL every statement is a round trip to the server (~0.25 ms here), and intake's
general path makes six (BEGIN, identity, conversation, message and link, delivery, COMMIT)
before the outbox makes two more (claim, conversation). The functions do the common case
server-side and hand the delivery back born claimed, so a relayed message costs one round
trip before its platform call. On SQLite a statement costs microseconds on the loop thread:
these methods return None there and intake takes its general path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from core import model as m
from core.ports import DuplicateError, Handover
from storage.base import dt_out, json_in, to_us
from storage.codec import content_json
from storage.deliveries import DeliveryRepository


class FastIntakeRepository(DeliveryRepository):
    @property
    def fast_intake(self) -> bool:
        return self._pg

    async def _call(self, query: str, values: list[Any]) -> Any | None:
        try:
            rows = await self._raw(query, values)
        except IntegrityError as exc:  # the platform message was stored before
            raise DuplicateError(str(exc)) from exc
        return rows[0] if rows else None

    async def fast_customer_message(
        self, inbound: m.InboundCustomerMessage, now: datetime, desk_chat_id: str,
        lease_until: datetime | None,
    ) -> Handover | None:
        if not self._pg or inbound.content.media_group_id is not None:
            return None  # albums are held and regrouped: the general path
        profile = inbound.profile
        name = profile.display_name[:256] if profile.display_name else None
        r = await self._call(
            "SELECT * FROM relaydesk_customer_message(?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?,"
            " ?, ?, ?, ?)",
            [inbound.channel, inbound.user_id, inbound.chat_id, profile.username,
             profile.link or None, name, profile.language or None, inbound.message_id,
             inbound.reply_to_message_id, json_in(content_json(inbound.content)), name, now,
             to_us(now), desk_chat_id, to_us(lease_until) if lease_until else None],
        )
        if r is None:
            return None
        conversation = m.Conversation(
            id=r["conversation_id"], customer_id=r["customer_id"], channel=r["channel"],
            status=m.ConversationStatus(r["status"]), topic_id=r["topic_id"],
            reply_identity_id=r["reply_identity_id"], assignee_id=r["assignee_id"],
            opened_at=r["opened_at"], first_response_at=r["first_response_at"],
            waiting_since=r["waiting_since"], closed_at=None, card_posted=r["card_posted"],
            acked_at=dt_out(r["acked_at"]), answered_at=dt_out(r["answered_at"]),
            department=r["department"], desk_chat=r["desk_chat"],
        )
        message = m.Message(
            id=r["message_id"], conversation_id=conversation.id, kind=m.MessageKind.CUSTOMER,
            author_id=inbound.user_id, author_name=name, content=inbound.content,
            source=m.SourceRef(inbound.channel, inbound.chat_id, inbound.message_id),
            reply_to_id=r["reply_to_id"], created_at=now, edited_at=None,
            reply_ref=None if r["reply_to_id"] else inbound.reply_to_message_id,
        )
        delivery = _delivery(r, m.desk_lane(conversation.id), m.DESK, desk_chat_id, message,
                             now)
        return Handover(message, delivery, conversation=conversation)

    async def fast_operator_message(
        self, inbound: m.InboundOperatorMessage, now: datetime, answered: bool,
        lease_until: datetime | None, desk_chat: str | None = None,
    ) -> Handover | None:
        if not self._pg or inbound.content.media_group_id is not None:
            return None
        name = inbound.operator_name[:256] if inbound.operator_name else None
        r = await self._call(
            "SELECT * FROM relaydesk_operator_message(?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?,"
            " ?, ?)",
            [inbound.platform, inbound.chat_id, inbound.message_id, inbound.thread_id,
             inbound.operator_id, name, json_in(content_json(inbound.content)),
             inbound.reply_to_message_id, now, to_us(now), answered,
             to_us(lease_until) if lease_until else None, desk_chat],
        )
        if r is None:
            return None
        identity = m.Identity(
            id=r["identity_id"], customer_id=r["customer_id"], channel=r["channel"],
            user_id=r["user_id"], chat_id=r["chat_id"], username=r["username"], link=r["link"],
            reachable=True,
        )
        message = m.Message(
            id=r["message_id"], conversation_id=r["conversation_id"],
            kind=m.MessageKind.OPERATOR, author_id=inbound.operator_id, author_name=name,
            content=inbound.content,
            source=m.SourceRef(inbound.platform, inbound.chat_id, inbound.message_id),
            reply_to_id=r["reply_to_id"], created_at=now, edited_at=None,
            reply_ref=None if r["reply_to_id"] else inbound.reply_to_message_id,
        )
        delivery = _delivery(r, m.channel_lane(identity.channel, identity.chat_id),
                             identity.channel, identity.chat_id, message, now)
        return Handover(message, delivery, identity=identity)


def _delivery(
    r: Any, lane: str, target: str, chat_id: str, message: m.Message, now: datetime
) -> m.Delivery:
    return m.Delivery(
        id=r["delivery_id"], lane=lane, target=target, chat_id=chat_id, action=m.Action.RELAY,
        message_id=message.id, conversation_id=message.conversation_id,
        status=m.DeliveryStatus.SENDING if r["claimed"] else m.DeliveryStatus.PENDING,
        attempts=0, next_attempt_at=now, group_key=None, body={},
        more=False,  # born claimed only into an empty lane
    )

"""TortoiseStore: the core's StorePort on tortoise-orm (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import model as m
from core.ports import DuplicateError, Link
from storage import models as db


def to_us(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def _content_json(content: m.Content) -> dict[str, Any]:
    return {
        "content_type": content.content_type, "text": content.text,
        "copyable": content.copyable, "summary": content.summary,
        "media_group_id": content.media_group_id, "data": content.data,
    }


def _content(raw: dict[str, Any]) -> m.Content:
    return m.Content(
        content_type=raw.get("content_type", "text"), text=raw.get("text", ""),
        copyable=raw.get("copyable", True), summary=raw.get("summary"),
        media_group_id=raw.get("media_group_id"), data=raw.get("data") or {},
    )


def _customer(row: db.Customer) -> m.Customer:
    return m.Customer(row.id, row.display_name, row.language, row.created_at)


def _identity(row: db.Identity) -> m.Identity:
    return m.Identity(
        id=row.id, customer_id=row.customer_id,  # type: ignore[attr-defined]
        channel=row.channel, user_id=row.user_id, chat_id=row.chat_id,
        username=row.username, link=row.link, reachable=row.reachable,
    )


def _conversation(row: db.Conversation) -> m.Conversation:
    return m.Conversation(
        id=row.id, customer_id=row.customer_id,  # type: ignore[attr-defined]
        channel=row.channel, status=m.ConversationStatus(row.status), topic_id=row.topic_id,
        reply_identity_id=row.reply_identity_id, assignee_id=row.assignee_id,
        opened_at=row.opened_at, first_response_at=row.first_response_at,
        waiting_since=row.waiting_since, closed_at=row.closed_at, card_posted=row.card_posted,
    )


def _message(row: db.Message) -> m.Message:
    source = None
    if row.source_platform and row.source_chat_id and row.source_message_id:
        source = m.SourceRef(row.source_platform, row.source_chat_id, row.source_message_id)
    return m.Message(
        id=row.id, conversation_id=row.conversation_id,  # type: ignore[attr-defined]
        kind=m.MessageKind(row.kind), author_id=row.author_id, author_name=row.author_name,
        content=_content(row.content), source=source, reply_to_id=row.reply_to_id,
        created_at=row.created_at, edited_at=row.edited_at, reply_ref=row.reply_ref,
    )


def _delivery(row: db.Delivery) -> m.Delivery:
    return m.Delivery(
        id=row.id, lane=row.lane, target=row.target, chat_id=row.chat_id,
        action=m.Action(row.action), message_id=row.message_id,
        conversation_id=row.conversation_id, status=m.DeliveryStatus(row.status),
        attempts=row.attempts, next_attempt_at=from_us(row.due_us), group_key=row.group_key,
        body=row.body or {}, last_error=row.last_error,
    )


def _delivery_raw(row: Any) -> m.Delivery:
    """A Delivery from a raw SQL row (the hot claim path skips the ORM's second query)."""
    body = row["body"]
    if isinstance(body, str | bytes):
        body = json.loads(body)
    return m.Delivery(
        id=row["id"], lane=row["lane"], target=row["target"], chat_id=row["chat_id"],
        action=m.Action(row["action"]), message_id=row["message_id"],
        conversation_id=row["conversation_id"], status=m.DeliveryStatus(row["status"]),
        attempts=row["attempts"], next_attempt_at=from_us(row["due_us"]),
        group_key=row["group_key"], body=body or {}, last_error=row["last_error"],
    )


def _link(row: db.MessageLink) -> Link:
    return Link(row.message_id, row.platform, row.chat_id, row.platform_message_id,
                row.is_origin)


def _due_prefix(rows: Sequence[dict[str, Any]], now: datetime) -> list[int]:
    """The ids of the leading due rows: FIFO, nothing overtakes a row that is not due yet."""
    horizon = to_us(now)
    ids: list[int] = []
    for r in rows:
        if r["due_us"] > horizon:
            break
        ids.append(r["id"])
    return ids


class TortoiseStore:
    """Repositories over tortoise. Queries inside `transaction()` join it (tortoise routes
    them through a context variable), so core services compose units of work freely."""

    def __init__(self) -> None:
        self._conn = get_connection("default")
        self._pg = self._conn.capabilities.dialect == "postgres"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with in_transaction("default"):
            yield

    def _sql(self, query: str) -> str:
        """Write queries with `?`; asyncpg wants `$1, $2, …`."""
        if not self._pg:
            return query
        parts = query.split("?")
        out = [parts[0]]
        for i, part in enumerate(parts[1:], start=1):
            out.append(f"${i}{part}")
        return "".join(out)

    async def _raw(self, query: str, values: list[Any]) -> Sequence[dict[str, Any]]:
        conn = get_connection("default")
        _, rows = await conn.execute_query(self._sql(query), values)
        return rows

    # ---- identities and customers ----------------------------------------------------

    async def upsert_identity(
        self, channel: str, user_id: str, chat_id: str, profile: m.Profile, now: datetime
    ) -> tuple[m.Identity, m.Customer, bool]:
        row = await db.Identity.get_or_none(channel=channel, user_id=user_id)
        created = False
        if row is None:
            customer = await db.Customer.create(
                display_name=profile.display_name[:256], language=profile.language,
                created_at=now,
            )
            try:
                row = await db.Identity.create(
                    customer=customer, channel=channel, user_id=user_id, chat_id=chat_id,
                    username=profile.username, link=profile.link, updated_at=now,
                )
            except IntegrityError as exc:
                raise DuplicateError(str(exc)) from exc
            created = True
            return _identity(row), _customer(customer), created
        changes: dict[str, Any] = {}
        if row.chat_id != chat_id:
            changes["chat_id"] = chat_id
        if profile.username != row.username:
            changes["username"] = profile.username
        if profile.link and profile.link != row.link:
            changes["link"] = profile.link
        if changes:
            changes["updated_at"] = now
            await db.Identity.filter(id=row.id).update(**changes)
            for key, value in changes.items():
                setattr(row, key, value)
        customer = await db.Customer.get(id=row.customer_id)  # type: ignore[attr-defined]
        cchanges: dict[str, Any] = {}
        if profile.display_name and profile.display_name[:256] != customer.display_name:
            cchanges["display_name"] = profile.display_name[:256]
        if profile.language and profile.language != customer.language:
            cchanges["language"] = profile.language
        if cchanges:
            await db.Customer.filter(id=customer.id).update(**cchanges)
            for key, value in cchanges.items():
                setattr(customer, key, value)
        return _identity(row), _customer(customer), created

    async def get_identity(self, identity_id: int) -> m.Identity:
        return _identity(await db.Identity.get(id=identity_id))

    async def get_customer(self, customer_id: int) -> m.Customer:
        return _customer(await db.Customer.get(id=customer_id))

    async def identities_of(self, customer_id: int) -> list[m.Identity]:
        rows = await db.Identity.filter(customer_id=customer_id).order_by("id")
        return [_identity(r) for r in rows]

    async def set_reachable(self, identity_id: int, reachable: bool) -> None:
        await db.Identity.filter(id=identity_id).update(reachable=reachable)

    async def find_identity(self, channel: str, user_id: str) -> m.Identity | None:
        row = await db.Identity.get_or_none(channel=channel, user_id=user_id)
        return _identity(row) if row else None

    async def find_identity_by_chat(self, channel: str, chat_id: str) -> m.Identity | None:
        row = await db.Identity.filter(channel=channel, chat_id=chat_id).order_by("-id").first()
        return _identity(row) if row else None

    # ---- conversations ---------------------------------------------------------------

    async def open_conversation(self, customer_id: int) -> m.Conversation | None:
        row = await db.Conversation.get_or_none(open_key=customer_id)
        return _conversation(row) if row else None

    async def latest_conversation(self, customer_id: int) -> m.Conversation | None:
        row = await db.Conversation.filter(customer_id=customer_id).order_by("-id").first()
        return _conversation(row) if row else None

    async def create_conversation(
        self, customer_id: int, channel: str, identity_id: int, topic_id: int | None,
        now: datetime,
    ) -> m.Conversation:
        try:
            row = await db.Conversation.create(
                customer_id=customer_id, channel=channel, status=m.ConversationStatus.OPEN,
                topic_id=topic_id, card_posted=topic_id is not None,
                reply_identity_id=identity_id, opened_at=now, open_key=customer_id,
            )
        except IntegrityError as exc:
            raise DuplicateError(str(exc)) from exc
        return _conversation(row)

    async def get_conversation(self, conversation_id: int) -> m.Conversation:
        return _conversation(await db.Conversation.get(id=conversation_id))

    async def conversation_by_topic(self, topic_id: int) -> m.Conversation | None:
        row = await db.Conversation.filter(topic_id=topic_id).order_by("-id").first()
        return _conversation(row) if row else None

    async def count_conversations(self, customer_id: int) -> int:
        return await db.Conversation.filter(customer_id=customer_id).count()

    async def update_conversation(self, conversation_id: int, **fields: Any) -> None:
        if fields.get("status") == m.ConversationStatus.CLOSED:
            fields["open_key"] = None
        if "status" in fields:
            fields["status"] = str(fields["status"])
        await db.Conversation.filter(id=conversation_id).update(**fields)

    async def set_topic(self, conversation_id: int, topic_id: int | None) -> None:
        await db.Conversation.filter(id=conversation_id).update(
            topic_id=topic_id, card_posted=False
        )

    async def forget_topic(self, topic_id: int) -> None:
        await db.Conversation.filter(topic_id=topic_id).update(topic_id=None, card_posted=False)

    # ---- messages and links ----------------------------------------------------------

    async def add_message(
        self, conversation_id: int, kind: m.MessageKind, author_id: str | None,
        author_name: str | None, content: m.Content, source: m.SourceRef | None,
        reply_to_id: int | None, now: datetime, reply_ref: str | None = None,
    ) -> m.Message:
        row = await db.Message.create(
            conversation_id=conversation_id, kind=str(kind), author_id=author_id,
            author_name=author_name[:256] if author_name else None,
            content=_content_json(content),
            source_platform=source.platform if source else None,
            source_chat_id=source.chat_id if source else None,
            source_message_id=source.message_id if source else None,
            reply_to_id=reply_to_id, reply_ref=reply_ref, created_at=now,
        )
        return _message(row)

    async def get_message(self, message_id: int) -> m.Message:
        return _message(await db.Message.get(id=message_id))

    async def update_content(self, message_id: int, content: m.Content, now: datetime) -> None:
        await db.Message.filter(id=message_id).update(
            content=_content_json(content), edited_at=now
        )

    async def add_link(
        self, message_id: int, platform: str, chat_id: str, platform_message_id: str,
        is_origin: bool,
    ) -> None:
        try:
            await db.MessageLink.create(
                message_id=message_id, platform=platform, chat_id=chat_id,
                platform_message_id=platform_message_id, is_origin=is_origin,
            )
        except IntegrityError as exc:
            raise DuplicateError(str(exc)) from exc

    async def find_link(
        self, platform: str, chat_id: str, platform_message_id: str
    ) -> Link | None:
        row = await db.MessageLink.get_or_none(
            platform=platform, chat_id=chat_id, platform_message_id=platform_message_id
        )
        return _link(row) if row else None

    async def links_of(self, message_id: int) -> list[Link]:
        rows = await db.MessageLink.filter(message_id=message_id).order_by("id")
        return [_link(r) for r in rows]

    # ---- the outbox ------------------------------------------------------------------

    async def enqueue(
        self, *, lane: str, target: str, chat_id: str, action: m.Action, now: datetime,
        message_id: int | None = None, conversation_id: int | None = None,
        group_key: str | None = None, not_before: datetime | None = None,
        body: dict[str, Any] | None = None,
    ) -> int:
        row = await db.Delivery.create(
            lane=lane, target=target, chat_id=chat_id, action=str(action),
            message_id=message_id, conversation_id=conversation_id,
            status=m.DeliveryStatus.PENDING, attempts=0, due_us=to_us(not_before or now),
            group_key=group_key, body=body or {}, created_at=now,
        )
        return row.id

    async def postpone_group(self, lane: str, group_key: str, until: datetime) -> None:
        await db.Delivery.filter(
            lane=lane, group_key=group_key, status=m.DeliveryStatus.PENDING
        ).update(due_us=to_us(until))

    async def claim_heads(
        self, now: datetime, limit: int, exclude_lanes: set[str], lease_until: datetime | None,
        target: str,
    ) -> list[m.Delivery]:
        """Claim the due first rows of lanes nobody works on (FIFO per lane, across
        processes: a lane whose first row is `sending` is somebody's)."""
        values: list[Any] = [target, to_us(now)]
        query = (
            "SELECT d.* FROM delivery d WHERE d.target = ? AND d.status = 'pending'"
            " AND d.due_us <= ?"
        )
        if exclude_lanes:
            # Excluded in SQL, not after: a row locked here (and then not taken) would make
            # this process's own lane task skip it and overtake it.
            query += f" AND d.lane NOT IN ({', '.join('?' for _ in exclude_lanes)})"
            values += sorted(exclude_lanes)
        query += (
            " AND NOT EXISTS (SELECT 1 FROM delivery e WHERE e.lane = d.lane"
            " AND e.status IN ('pending', 'sending') AND e.id < d.id)"
            " ORDER BY d.id LIMIT ?"
        )
        values.append(limit)
        if lease_until is None:  # the only process on this database: nothing to mark
            return [_delivery_raw(r) for r in await self._raw(query, values)]
        if self._pg:
            query += " FOR UPDATE OF d SKIP LOCKED"
        async with self.transaction():
            rows = await self._raw(query, values)
            return await self._mark_sending([r["id"] for r in rows], lease_until)

    async def claim_next(
        self, lane: str, now: datetime, limit: int, lease_until: datetime | None,
        after_id: int = 0,
    ) -> list[m.Delivery]:
        """Claim the next due rows (ids above `after_id`) of a lane this process holds."""
        query = "SELECT * FROM delivery WHERE lane = ? AND status = 'pending'"
        query += " AND id > ? ORDER BY id LIMIT ?"
        if lease_until is None:
            rows = await self._raw(query, [lane, after_id, limit])
            due = set(_due_prefix(rows, now))
            return [_delivery_raw(r) for r in rows if r["id"] in due]
        if self._pg:
            # Wait for locks instead of skipping: a skipped row would be overtaken (FIFO).
            query += " FOR UPDATE"
        async with self.transaction():
            rows = await self._raw(query, [lane, after_id, limit])
            return await self._mark_sending(_due_prefix(rows, now), lease_until)

    async def _rows(self, ids: list[int]) -> list[m.Delivery]:
        if not ids:
            return []
        return [_delivery(r) for r in await db.Delivery.filter(id__in=ids).order_by("id")]

    async def _mark_sending(self, ids: list[int], lease_until: datetime) -> list[m.Delivery]:
        if not ids:
            return []
        await db.Delivery.filter(id__in=ids).update(
            status=m.DeliveryStatus.SENDING, lease_us=to_us(lease_until)
        )
        return await self._rows(ids)

    async def finish(
        self, delivery_id: int, status: m.DeliveryStatus, error: str | None = None
    ) -> None:
        await db.Delivery.filter(id=delivery_id).update(
            status=str(status), last_error=error, lease_us=None
        )

    async def reschedule(
        self, delivery_id: int, at: datetime, error: str | None, attempts: int
    ) -> None:
        await db.Delivery.filter(id=delivery_id).update(
            status=m.DeliveryStatus.PENDING, due_us=to_us(at), last_error=error,
            attempts=attempts, lease_us=None,
        )

    async def release(self, delivery_ids: Sequence[int]) -> None:
        if delivery_ids:
            await db.Delivery.filter(id__in=list(delivery_ids)).update(
                status=m.DeliveryStatus.PENDING, lease_us=None
            )

    async def extend_leases(self, delivery_ids: Sequence[int], until: datetime) -> None:
        await db.Delivery.filter(
            id__in=list(delivery_ids), status=m.DeliveryStatus.SENDING
        ).update(lease_us=to_us(until))

    async def release_stale(self, now: datetime) -> int:
        return await db.Delivery.filter(
            status=m.DeliveryStatus.SENDING, lease_us__lt=to_us(now)
        ).update(status=m.DeliveryStatus.PENDING, lease_us=None)

    async def next_due_at(self, exclude_lanes: set[str] | None = None) -> datetime | None:
        """When the earliest lane head nobody works on becomes due (rows behind a head, or
        in lanes in flight, do not count: waking for them would spin)."""
        values: list[Any] = []
        query = "SELECT MIN(d.due_us) AS due FROM delivery d WHERE d.status = 'pending'"
        if exclude_lanes:
            query += f" AND d.lane NOT IN ({', '.join('?' for _ in exclude_lanes)})"
            values += sorted(exclude_lanes)
        query += (
            " AND NOT EXISTS (SELECT 1 FROM delivery e WHERE e.lane = d.lane"
            " AND e.status IN ('pending', 'sending') AND e.id < d.id)"
        )
        rows = await self._raw(query, values)
        due = rows[0]["due"] if rows else None
        return from_us(due) if due is not None else None

    async def count_deliveries(self, status: m.DeliveryStatus | None = None) -> int:
        query = db.Delivery.all() if status is None else db.Delivery.filter(status=str(status))
        return await query.count()

"""TortoiseStore: the core's StorePort on tortoise-orm (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from core import model as m
from core.ports import DuplicateError, Link
from storage import models as db
from storage.base import dt_out, json_in, json_out
from storage.deliveries import DeliveryRepository


def _content_json(content: m.Content) -> dict[str, Any]:
    return {
        "content_type": content.content_type, "text": content.text,
        "copyable": content.copyable, "summary": content.summary,
        "media_group_id": content.media_group_id, "data": content.data,
        **({"attachments": [_attachment_json(a) for a in content.attachments]}
           if content.attachments else {}),
        **({"quote": content.quote} if content.quote else {}),
    }


def _attachment_json(a: m.Attachment) -> dict[str, Any]:
    return {"kind": a.kind, "platform": a.platform, "ref": a.ref, "name": a.name,
            "mime": a.mime}


def _content(raw: dict[str, Any]) -> m.Content:
    return m.Content(
        content_type=raw.get("content_type", "text"), text=raw.get("text", ""),
        copyable=raw.get("copyable", True), summary=raw.get("summary"),
        media_group_id=raw.get("media_group_id"), data=raw.get("data") or {},
        attachments=tuple(m.Attachment(**a) for a in raw.get("attachments") or ()),
        quote=raw.get("quote"),
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


def _conversation_raw(r: Any) -> m.Conversation:
    return m.Conversation(
        id=r["id"], customer_id=r["customer_id"], channel=r["channel"],
        status=m.ConversationStatus(r["status"]), topic_id=r["topic_id"],
        reply_identity_id=r["reply_identity_id"], assignee_id=r["assignee_id"],
        opened_at=dt_out(r["opened_at"]),  # type: ignore[arg-type]
        first_response_at=dt_out(r["first_response_at"]),
        waiting_since=dt_out(r["waiting_since"]), closed_at=dt_out(r["closed_at"]),
        card_posted=bool(r["card_posted"]),
    )


def _message_raw(r: Any) -> m.Message:
    source = None
    if r["source_platform"] and r["source_chat_id"] and r["source_message_id"]:
        source = m.SourceRef(r["source_platform"], r["source_chat_id"], r["source_message_id"])
    return m.Message(
        id=r["id"], conversation_id=r["conversation_id"], kind=m.MessageKind(r["kind"]),
        author_id=r["author_id"], author_name=r["author_name"],
        content=_content(json_out(r["content"])), source=source, reply_to_id=r["reply_to_id"],
        created_at=dt_out(r["created_at"]),  # type: ignore[arg-type]
        edited_at=dt_out(r["edited_at"]), reply_ref=r["reply_ref"],
    )


def _link_raw(r: Any) -> Link:
    return Link(r["message_id"], r["platform"], r["chat_id"], r["platform_message_id"],
                bool(r["is_origin"]))


class TortoiseStore(DeliveryRepository):
    """The core's StorePort on tortoise. Queries inside `transaction()` join it (tortoise
    routes them through a context variable), so core services compose units of work."""

    # ---- identities and customers ----------------------------------------------------

    async def upsert_identity(
        self, channel: str, user_id: str, chat_id: str, profile: m.Profile, now: datetime
    ) -> tuple[m.Identity, m.Customer, bool]:
        # Hot path (every customer message): one joined read; writes only on change.
        rows = await self._raw(
            "SELECT i.*, c.display_name AS c_name, c.language AS c_language,"
            " c.created_at AS c_created FROM identity i JOIN customer c ON c.id = i.customer_id"
            " WHERE i.channel = ? AND i.user_id = ?", [channel, user_id],
        )
        if rows:
            r = rows[0]
            unchanged = (
                r["chat_id"] == chat_id and r["username"] == profile.username
                and (not profile.link or profile.link == r["link"])
                and (not profile.display_name or profile.display_name[:256] == r["c_name"])
                and (not profile.language or profile.language == r["c_language"])
            )
            if unchanged:
                return (
                    m.Identity(r["id"], r["customer_id"], r["channel"], r["user_id"],
                               r["chat_id"], r["username"], r["link"], bool(r["reachable"])),
                    m.Customer(r["customer_id"], r["c_name"], r["c_language"],
                               dt_out(r["c_created"])),  # type: ignore[arg-type]
                    False,
                )
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
        row = await db.Customer.get_or_none(id=customer_id)
        if row is None:
            raise LookupError(f"customer {customer_id} not found")
        return _customer(row)

    async def identities_of(self, customer_id: int) -> list[m.Identity]:
        rows = await db.Identity.filter(customer_id=customer_id).order_by("id")
        return [_identity(r) for r in rows]

    async def set_reachable(self, identity_id: int, reachable: bool) -> None:
        await db.Identity.filter(id=identity_id).update(reachable=reachable)

    async def move_customer(self, from_id: int, into_id: int) -> None:
        """Every identity and conversation of customer `from_id` now belongs to `into_id`
        (the caller has closed one of two open conversations first)."""
        await db.Identity.filter(customer_id=from_id).update(customer_id=into_id)
        await db.Conversation.filter(customer_id=from_id, open_key__isnull=False).update(
            open_key=into_id
        )
        await db.Conversation.filter(customer_id=from_id).update(customer_id=into_id)

    async def load_cursor(self, name: str) -> str | None:
        row = await db.Cursor.get_or_none(name=name)
        return row.value if row else None

    async def save_cursor(self, name: str, value: str, now: datetime) -> None:
        updated = await db.Cursor.filter(name=name).update(value=value, updated_at=now)
        if not updated:
            await db.Cursor.create(name=name, value=value, updated_at=now)

    async def find_identity(self, channel: str, user_id: str) -> m.Identity | None:
        row = await db.Identity.get_or_none(channel=channel, user_id=user_id)
        return _identity(row) if row else None

    async def find_identity_by_chat(self, channel: str, chat_id: str) -> m.Identity | None:
        row = await db.Identity.filter(channel=channel, chat_id=chat_id).order_by("-id").first()
        return _identity(row) if row else None

    # ---- conversations ---------------------------------------------------------------

    async def open_conversation(self, customer_id: int) -> m.Conversation | None:
        rows = await self._raw("SELECT * FROM conversation WHERE open_key = ?", [customer_id])
        return _conversation_raw(rows[0]) if rows else None

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
        rows = await self._raw("SELECT * FROM conversation WHERE id = ?", [conversation_id])
        if not rows:
            raise LookupError(f"conversation {conversation_id} not found")
        return _conversation_raw(rows[0])

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
        name = author_name[:256] if author_name else None
        rows = await self._raw(
            "INSERT INTO message (conversation_id, kind, author_id, author_name, content,"
            " source_platform, source_chat_id, source_message_id, reply_to_id, reply_ref,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [conversation_id, str(kind), author_id, name, json_in(_content_json(content)),
             source.platform if source else None, source.chat_id if source else None,
             source.message_id if source else None, reply_to_id, reply_ref, self.dt_in(now)],
        )
        return m.Message(
            id=rows[0]["id"], conversation_id=conversation_id, kind=kind, author_id=author_id,
            author_name=name, content=content, source=source, reply_to_id=reply_to_id,
            created_at=now, edited_at=None, reply_ref=reply_ref,
        )

    async def get_message(self, message_id: int) -> m.Message:
        rows = await self._raw("SELECT * FROM message WHERE id = ?", [message_id])
        if not rows:
            raise LookupError(f"message {message_id} not found")
        return _message_raw(rows[0])

    async def update_content(self, message_id: int, content: m.Content, now: datetime) -> None:
        await db.Message.filter(id=message_id).update(
            content=_content_json(content), edited_at=now
        )

    async def add_link(
        self, message_id: int, platform: str, chat_id: str, platform_message_id: str,
        is_origin: bool,
    ) -> None:
        try:
            await self._raw(
                "INSERT INTO message_link (message_id, platform, chat_id, platform_message_id,"
                " is_origin) VALUES (?, ?, ?, ?, ?)",
                [message_id, platform, chat_id, platform_message_id, is_origin],
            )
        except IntegrityError as exc:
            raise DuplicateError(str(exc)) from exc

    async def find_link(
        self, platform: str, chat_id: str, platform_message_id: str
    ) -> Link | None:
        rows = await self._raw(
            "SELECT * FROM message_link WHERE platform = ? AND chat_id = ?"
            " AND platform_message_id = ?", [platform, chat_id, platform_message_id],
        )
        return _link_raw(rows[0]) if rows else None

    async def links_of(self, message_id: int) -> list[Link]:
        rows = await self._raw(
            "SELECT * FROM message_link WHERE message_id = ? ORDER BY id", [message_id]
        )
        return [_link_raw(r) for r in rows]

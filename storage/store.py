"""TortoiseStore: the core's StorePort on tortoise-orm (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError

from core import model as m
from core.intake.ports import NewMessage
from core.ports import DuplicateError, Link
from storage import models as db
from storage.base import BULK_ROWS, chunks, dt_out, json_in, json_out
from storage.codec import content_json as _content_json
from storage.codec import content_out as _content
from storage.customers import CustomerRepository
from storage.fast_intake import FastIntakeRepository
from storage.topics import TopicRepository

# What change_conversation may set: the model's columns but the key (derived, so a column
# added by a migration is allowed without a second list to keep). The opening time changes
# once, when a bot hands the conversation to people (`ConversationChange.handed_over`).
_CONVERSATION_COLUMNS = frozenset(db.Conversation._meta.db_fields) - {"id"}


def _conversation_raw(r: Any) -> m.Conversation:
    return m.Conversation(
        id=r["id"], customer_id=r["customer_id"], channel=r["channel"],
        status=m.ConversationStatus(r["status"]), topic_id=r["topic_id"],
        reply_identity_id=r["reply_identity_id"], assignee_id=r["assignee_id"],
        opened_at=dt_out(r["opened_at"]),  # type: ignore[arg-type]
        first_response_at=dt_out(r["first_response_at"]),
        waiting_since=dt_out(r["waiting_since"]), closed_at=dt_out(r["closed_at"]),
        card_posted=bool(r["card_posted"]), acked_at=dt_out(r["acked_at"]),
        answered_at=dt_out(r["answered_at"]),
        department=r["department"], desk_chat=r["desk_chat"],
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


class TortoiseStore(CustomerRepository, TopicRepository, FastIntakeRepository):
    """The core's StorePort on tortoise. Queries inside `transaction()` join it (tortoise
    routes them through a context variable), so core services compose units of work."""

    # ---- conversations ---------------------------------------------------------------

    async def open_conversation(self, customer_id: int) -> m.Conversation | None:
        rows = await self._raw("SELECT * FROM conversation WHERE open_key = ?", [customer_id])
        return _conversation_raw(rows[0]) if rows else None

    async def latest_conversation(self, customer_id: int) -> m.Conversation | None:
        rows = await self._raw(
            "SELECT * FROM conversation WHERE customer_id = ? ORDER BY id DESC LIMIT 1",
            [customer_id],
        )
        return _conversation_raw(rows[0]) if rows else None

    async def create_conversation(
        self, customer_id: int, channel: str, identity_id: int, topic_id: int | None,
        now: datetime, status: m.ConversationStatus = m.ConversationStatus.OPEN,
    ) -> m.Conversation:
        try:
            rows = await self._raw(
                "INSERT INTO conversation (customer_id, channel, status, topic_id, card_posted,"
                " reply_identity_id, opened_at, open_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                [customer_id, channel, str(status), topic_id, topic_id is not None,
                 identity_id, self.dt_in(now), customer_id],
            )
        except IntegrityError as exc:
            raise DuplicateError(str(exc)) from exc
        return m.Conversation(
            id=rows[0]["id"], customer_id=customer_id, channel=channel, status=status,
            topic_id=topic_id, reply_identity_id=identity_id, assignee_id=None, opened_at=now,
            first_response_at=None, waiting_since=None, closed_at=None,
            card_posted=topic_id is not None,
        )

    async def get_conversation(self, conversation_id: int) -> m.Conversation:
        rows = await self._raw("SELECT * FROM conversation WHERE id = ?", [conversation_id])
        if not rows:
            raise LookupError(f"conversation {conversation_id} not found")
        return _conversation_raw(rows[0])

    async def conversation_by_topic(self, topic_id: int, desk_chat: str | None = None
                                    ) -> m.Conversation | None:
        if desk_chat is None:
            rows = await self._raw(
                "SELECT * FROM conversation WHERE topic_id = ? AND desk_chat IS NULL"
                " ORDER BY id DESC LIMIT 1", [topic_id])
        else:
            rows = await self._raw(
                "SELECT * FROM conversation WHERE topic_id = ? AND desk_chat = ?"
                " ORDER BY id DESC LIMIT 1", [topic_id, desk_chat])
        return _conversation_raw(rows[0]) if rows else None

    async def lock_conversation(self, conversation_id: int) -> m.Conversation:
        lock = " FOR UPDATE" if self._pg else ""
        rows = await self._raw(f"SELECT * FROM conversation WHERE id = ?{lock}",
                               [conversation_id])
        if not rows:
            raise LookupError(f"conversation {conversation_id} not found")
        return _conversation_raw(rows[0])

    async def change_conversation(self, conversation_id: int,
                                  fields: Mapping[str, object]) -> None:
        unknown = set(fields) - _CONVERSATION_COLUMNS
        if unknown:
            raise ValueError(f"not conversation columns: {sorted(unknown)}")
        if not fields:
            return
        names = list(fields)
        values = [self._value(fields[n]) for n in names]
        await self._raw(
            f"UPDATE conversation SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
            [*values, conversation_id],
        )

    async def close_conversation(self, conversation_id: int, at: datetime,
                                 reason: str | None = None) -> None:
        await self._raw(
            "UPDATE conversation SET status = 'closed', closed_at = ?, waiting_since = NULL,"
            " open_key = NULL, close_reason = ? WHERE id = ?",
            [self.dt_in(at), reason, conversation_id])

    async def last_topic(self, customer_id: int) -> m.Conversation | None:
        rows = await self._raw(
            "SELECT * FROM conversation WHERE customer_id = ? AND topic_id IS NOT NULL"
            " ORDER BY id DESC LIMIT 1", [customer_id])
        return _conversation_raw(rows[0]) if rows else None

    async def mark_card_posted(self, conversation_id: int) -> None:
        await self._raw("UPDATE conversation SET card_posted = ? WHERE id = ?",
                        [True, conversation_id])

    async def reopen_conversation(self, conversation_id: int) -> bool:
        """Closed → open again, unless the customer already has another open conversation."""
        rows = await self._raw(
            "UPDATE conversation SET status = 'open', closed_at = NULL, open_key = customer_id"
            " WHERE id = ? AND status = 'closed' AND NOT EXISTS (SELECT 1 FROM conversation o"
            " WHERE o.open_key = conversation.customer_id) RETURNING id",
            [conversation_id],
        )
        return bool(rows)

    async def operator_names(self, operator_ids: Sequence[str]) -> dict[str, str]:
        """The name each operator last wrote under (reports show names, not ids)."""
        if not operator_ids:
            return {}
        rows = await self._raw(
            "SELECT author_id, author_name FROM message WHERE kind = 'operator'"
            f" AND author_id IN ({', '.join('?' for _ in operator_ids)}) ORDER BY id",
            list(operator_ids),
        )
        return {r["author_id"]: r["author_name"] for r in rows if r["author_name"]}

    def _value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return self.dt_in(value)
        if isinstance(value, StrEnum):
            return str(value)
        return value

    # ---- messages and links ----------------------------------------------------------

    async def add_message(
        self, conversation_id: int, kind: m.MessageKind, author_id: str | None,
        author_name: str | None, content: m.Content, source: m.SourceRef | None,
        reply_to_id: int | None, now: datetime, reply_ref: str | None = None,
    ) -> m.Message:
        name = author_name[:256] if author_name else None
        insert = (
            "INSERT INTO message (conversation_id, kind, author_id, author_name, content,"
            " source_platform, source_chat_id, source_message_id, reply_to_id, reply_ref,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
        )
        values = [conversation_id, str(kind), author_id, name, json_in(_content_json(content)),
                  source.platform if source else None, source.chat_id if source else None,
                  source.message_id if source else None, reply_to_id, reply_ref,
                  self.dt_in(now)]
        origin = "INSERT INTO message_link (message_id, platform, chat_id, platform_message_id,"
        try:
            if source is None:
                rows = await self._raw(insert, values)
            elif self._pg:  # message and origin link in one round trip
                rows = await self._raw(
                    f"WITH msg AS ({insert}) {origin} is_origin) SELECT id, ?, ?, ?, TRUE"
                    " FROM msg RETURNING message_id AS id",
                    [*values, source.platform, source.chat_id, source.message_id],
                )
            else:
                rows = await self._raw(insert, values)
                await self._raw(f"{origin} is_origin) VALUES (?, ?, ?, ?, ?)",
                                [rows[0]["id"], source.platform, source.chat_id,
                                 source.message_id, True])
        except IntegrityError as exc:
            raise DuplicateError(str(exc)) from exc
        return m.Message(
            id=rows[0]["id"], conversation_id=conversation_id, kind=kind, author_id=author_id,
            author_name=name, content=content, source=source, reply_to_id=reply_to_id,
            created_at=now, edited_at=None, reply_ref=reply_ref,
        )

    async def add_customer_messages(
        self, conversation_id: int, items: Sequence[NewMessage], now: datetime
    ) -> list[m.Message]:
        """Customer messages of one conversation with their origin links, a statement or
        two per `BULK_ROWS` (a flood's held messages); in the order of `items`."""
        out: list[m.Message] = []
        now_in = self.dt_in(now)
        for chunk in chunks(items, BULK_ROWS):
            names = [i.author_name[:256] if i.author_name else None for i in chunk]
            insert = (
                "INSERT INTO message (conversation_id, kind, author_id, author_name, content,"
                " source_platform, source_chat_id, source_message_id, reply_to_id, reply_ref,"
                " created_at) VALUES "
                + ", ".join("(?, 'customer', ?, ?, ?, ?, ?, ?, ?, ?, ?)" for _ in chunk)
                + " RETURNING id")
            values = [v for i, name in zip(chunk, names, strict=True) for v in (
                conversation_id, i.author_id, name, json_in(_content_json(i.content)),
                i.source.platform, i.source.chat_id, i.source.message_id, i.reply_to_id,
                i.reply_ref, now_in)]
            links = ("INSERT INTO message_link (message_id, platform, chat_id,"
                     " platform_message_id, is_origin)")
            try:
                if self._pg:  # the messages and their links in one round trip
                    rows = await self._raw(
                        f"WITH msg AS ({insert}, source_platform, source_chat_id,"
                        f" source_message_id) {links} SELECT id, source_platform,"
                        " source_chat_id, source_message_id, TRUE FROM msg"
                        " RETURNING message_id AS id", values)
                    ids = sorted(int(r["id"]) for r in rows)  # VALUES order (see below)
                else:
                    ids = sorted(int(r["id"]) for r in await self._raw(insert, values))
                    await self._raw(
                        f"{links} VALUES " + ", ".join("(?, ?, ?, ?, ?)" for _ in chunk),
                        [v for id_, i in zip(ids, chunk, strict=True) for v in (
                            id_, i.source.platform, i.source.chat_id, i.source.message_id,
                            True)])
            except IntegrityError as exc:
                raise DuplicateError(str(exc)) from exc
            out += [m.Message(
                id=id_, conversation_id=conversation_id, kind=m.MessageKind.CUSTOMER,
                author_id=i.author_id, author_name=name, content=i.content, source=i.source,
                reply_to_id=i.reply_to_id, created_at=now, edited_at=None,
                reply_ref=i.reply_ref) for id_, i, name in zip(ids, chunk, names, strict=True)]
        return out

    async def add_system_messages(
        self, items: Sequence[tuple[int, m.Content]], now: datetime
    ) -> list[int]:
        ids: list[int] = []
        now_in = self.dt_in(now)
        for chunk in chunks(items, BULK_ROWS):
            rows = await self._raw(
                "INSERT INTO message (conversation_id, kind, content, created_at) VALUES "
                + ", ".join("(?, 'system', ?, ?)" for _ in chunk) + " RETURNING id",
                [v for conversation_id, content in chunk
                 for v in (conversation_id, json_in(_content_json(content)), now_in)],
            )
            # One statement takes ids in VALUES order (SQLite's next rowid, PostgreSQL's
            # sequence), while RETURNING's own order is unspecified: sort.
            ids += sorted(int(r["id"]) for r in rows)
        return ids

    async def get_message(self, message_id: int) -> m.Message:
        rows = await self._raw("SELECT * FROM message WHERE id = ?", [message_id])
        if not rows:
            raise LookupError(f"message {message_id} not found")
        return _message_raw(rows[0])

    async def update_content(self, message_id: int, content: m.Content, now: datetime) -> None:
        await self._raw("UPDATE message SET content = ?, edited_at = ? WHERE id = ?",
                        [json_in(_content_json(content)), self.dt_in(now), message_id])

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

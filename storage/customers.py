"""Customers and their identities on each channel; where platform update streams were
last acknowledged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from core import model as m
from core.ports import DuplicateError
from storage.base import TortoiseBase, dt_out


def _identity_raw(r: Any) -> m.Identity:
    return m.Identity(
        id=r["id"], customer_id=r["customer_id"], channel=r["channel"], user_id=r["user_id"],
        chat_id=r["chat_id"], username=r["username"], link=r["link"],
        reachable=bool(r["reachable"]),
    )


class CustomerRepository(TortoiseBase):
    """Identities are unique per (channel, user id); several may point at one customer."""

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
        now_in = self.dt_in(now)
        if not rows:  # a new person: customer and identity
            name = profile.display_name[:256]
            values = [name, profile.language, now_in, channel, user_id, chat_id,
                      profile.username, profile.link, True, now_in]
            try:
                if self._pg:  # one round trip
                    irow = await self._raw(
                        "WITH c AS (INSERT INTO customer (display_name, language, created_at)"
                        " VALUES (?, ?, ?) RETURNING id) INSERT INTO identity (customer_id,"
                        " channel, user_id, chat_id, username, link, reachable, updated_at)"
                        " SELECT c.id, ?, ?, ?, ?, ?, ?, ? FROM c RETURNING id, customer_id",
                        values,
                    )
                else:
                    crow = await self._raw(
                        "INSERT INTO customer (display_name, language, created_at)"
                        " VALUES (?, ?, ?) RETURNING id", values[:3],
                    )
                    irow = await self._raw(
                        "INSERT INTO identity (customer_id, channel, user_id, chat_id,"
                        " username, link, reachable, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                        " RETURNING id, customer_id", [crow[0]["id"], *values[3:]],
                    )
            except IntegrityError as exc:
                raise DuplicateError(str(exc)) from exc
            customer = m.Customer(irow[0]["customer_id"], name, profile.language, now)
            identity = m.Identity(irow[0]["id"], customer.id, channel, user_id, chat_id,
                                  profile.username, profile.link, True)
            return identity, customer, True
        r = rows[0]
        link = profile.link if profile.link else r["link"]
        await self._raw(
            "UPDATE identity SET chat_id = ?, username = ?, link = ?, updated_at = ? WHERE id = ?",
            [chat_id, profile.username, link, now_in, r["id"]],
        )
        name = profile.display_name[:256] if profile.display_name else r["c_name"]
        language = profile.language or r["c_language"]
        if name != r["c_name"] or language != r["c_language"]:
            await self._raw("UPDATE customer SET display_name = ?, language = ? WHERE id = ?",
                            [name, language, r["customer_id"]])
        return (
            m.Identity(r["id"], r["customer_id"], channel, user_id, chat_id, profile.username,
                       link, bool(r["reachable"])),
            m.Customer(r["customer_id"], name, language,
                       dt_out(r["c_created"])),  # type: ignore[arg-type]
            False,
        )

    async def get_identity(self, identity_id: int) -> m.Identity:
        rows = await self._raw("SELECT * FROM identity WHERE id = ?", [identity_id])
        if not rows:
            raise LookupError(f"identity {identity_id} not found")
        return _identity_raw(rows[0])

    async def get_customer(self, customer_id: int) -> m.Customer:
        rows = await self._raw("SELECT * FROM customer WHERE id = ?", [customer_id])
        if not rows:
            raise LookupError(f"customer {customer_id} not found")
        r = rows[0]
        return m.Customer(r["id"], r["display_name"], r["language"],
                          dt_out(r["created_at"]))  # type: ignore[arg-type]

    async def customer_card(
        self, customer_id: int
    ) -> tuple[m.Customer, list[m.Identity], int]:
        """What a topic's customer card shows: the customer, their identities and how many
        conversations they have had (this one included). One statement."""
        rows = await self._raw(
            "SELECT i.*, c.id AS c_id, c.display_name AS c_name, c.language AS c_language,"
            " c.created_at AS c_created, (SELECT COUNT(*) FROM conversation v"
            " WHERE v.customer_id = c.id) AS c_conversations FROM customer c"
            " LEFT JOIN identity i ON i.customer_id = c.id WHERE c.id = ? ORDER BY i.id",
            [customer_id],
        )
        if not rows:
            raise LookupError(f"customer {customer_id} not found")
        r = rows[0]
        customer = m.Customer(r["c_id"], r["c_name"], r["c_language"],
                              dt_out(r["c_created"]))  # type: ignore[arg-type]
        identities = [_identity_raw(r) for r in rows if r["id"] is not None]
        return customer, identities, int(r["c_conversations"])

    async def identities_of(self, customer_id: int) -> list[m.Identity]:
        rows = await self._raw("SELECT * FROM identity WHERE customer_id = ? ORDER BY id",
                               [customer_id])
        return [_identity_raw(r) for r in rows]

    async def set_reachable(self, identity_id: int, reachable: bool) -> None:
        await self._raw("UPDATE identity SET reachable = ? WHERE id = ?",
                        [reachable, identity_id])

    async def move_customer(self, from_id: int, into_id: int) -> None:
        """Every identity and conversation of customer `from_id` now belongs to `into_id`
        (the caller has closed one of two open conversations first)."""
        await self._raw("UPDATE identity SET customer_id = ? WHERE customer_id = ?",
                        [into_id, from_id])
        await self._raw("UPDATE conversation SET open_key = ? WHERE customer_id = ?"
                        " AND open_key IS NOT NULL", [into_id, from_id])
        await self._raw("UPDATE conversation SET customer_id = ? WHERE customer_id = ?",
                        [into_id, from_id])

    async def load_cursor(self, name: str) -> str | None:
        rows = await self._raw('SELECT value FROM "cursor" WHERE name = ?', [name])
        return str(rows[0]["value"]) if rows else None

    async def save_cursor(self, name: str, value: str, now: datetime) -> None:
        await self._raw(
            'INSERT INTO "cursor" (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name)'
            " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [name, value, self.dt_in(now)],
        )

    async def find_identity(self, channel: str, user_id: str) -> m.Identity | None:
        rows = await self._raw("SELECT * FROM identity WHERE channel = ? AND user_id = ?",
                               [channel, user_id])
        return _identity_raw(rows[0]) if rows else None

    async def find_identity_by_chat(self, channel: str, chat_id: str) -> m.Identity | None:
        rows = await self._raw(
            "SELECT * FROM identity WHERE channel = ? AND chat_id = ? ORDER BY id DESC LIMIT 1",
            [channel, chat_id],
        )
        return _identity_raw(rows[0]) if rows else None


"""The website widget's store (adapters.web.ports.WebStore) on tortoise, raw SQL: each
visitor's events, idempotent on (visitor, ref)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.base import TortoiseBase, json_in, json_out, to_us


def _event(row: Any) -> tuple[int, str, dict[str, Any]]:
    return int(row["id"]), str(row["kind"]), json_out(row["body"]) or {}


class TortoiseWebStore(TortoiseBase):
    async def add_event(self, visitor: str, kind: str, body: dict[str, Any],
                        ref: str | None, now: datetime) -> tuple[int, bool]:
        """The event's id, and whether it is new (False: `ref` was stored before). One
        statement when it is new (no error raised inside the caller's transaction)."""
        rows = await self._raw(
            "INSERT INTO web_event (visitor, kind, ref, body, at_us) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (visitor, ref) DO NOTHING RETURNING id",
            [visitor, kind, ref, json_in(body), to_us(now)])
        if rows:
            return int(rows[0]["id"]), True
        found = await self._find(visitor, ref) if ref is not None else None
        if found is None:
            raise LookupError(f"web event {ref!r} of {visitor} neither stored nor found")
        return found, False

    async def _find(self, visitor: str, ref: str) -> int | None:
        rows = await self._raw("SELECT id FROM web_event WHERE visitor = ? AND ref = ?",
                               [visitor, ref])
        return int(rows[0]["id"]) if rows else None

    async def events_after(self, visitor: str, after: int, limit: int
                           ) -> list[tuple[int, str, dict[str, Any]]]:
        rows = await self._raw(
            "SELECT id, kind, body FROM web_event WHERE visitor = ? AND id > ?"
            " ORDER BY id LIMIT ?", [visitor, after, limit])
        return [_event(r) for r in rows]

    async def get_event(self, visitor: str, event_id: int
                        ) -> tuple[int, str, dict[str, Any]] | None:
        rows = await self._raw("SELECT id, kind, body FROM web_event WHERE visitor = ? AND"
                               " id = ?", [visitor, event_id])
        return _event(rows[0]) if rows else None

    async def latest_event(self, visitor: str, kind: str
                           ) -> tuple[int, str, dict[str, Any]] | None:
        rows = await self._raw("SELECT id, kind, body FROM web_event WHERE visitor = ? AND"
                               " kind = ? ORDER BY id DESC LIMIT 1", [visitor, kind])
        return _event(rows[0]) if rows else None

    async def add_file(self, visitor: str, name: str, mime: str, data: bytes,
                       now: datetime) -> int:
        rows = await self._raw(
            "INSERT INTO web_file (visitor, name, mime, data, at_us) VALUES (?, ?, ?, ?, ?)"
            " RETURNING id", [visitor, name, mime, data, to_us(now)])
        return int(rows[0]["id"])

    async def get_file(self, file_id: int) -> tuple[str, str, str, bytes] | None:
        """(visitor, name, mime, data) of a stored upload."""
        rows = await self._raw("SELECT visitor, name, mime, data FROM web_file WHERE id = ?",
                               [file_id])
        if not rows:
            return None
        row = rows[0]
        return str(row["visitor"]), str(row["name"]), str(row["mime"]), bytes(row["data"])

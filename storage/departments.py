"""The departments' store (core.departments.ports.DepartmentStore) on raw SQL: the routing
question each waiting customer was asked (`department_wait`, times in microseconds)."""

from __future__ import annotations

import json
from datetime import datetime

from core.departments.ports import Said
from storage.base import TortoiseBase, json_out, to_us


class TortoiseDepartmentStore(TortoiseBase):
    async def asked(self, conversation_id: int, at: datetime, held: list[int]) -> None:
        await self._raw(
            "INSERT INTO department_wait (conversation_id, asked_at_us, held) VALUES (?, ?, ?)",
            [conversation_id, to_us(at), json.dumps(held)])

    async def held(self, conversation_id: int) -> list[int] | None:
        rows = await self._raw("SELECT held FROM department_wait WHERE conversation_id = ?",
                               [conversation_id])
        return [int(i) for i in json.loads(rows[0]["held"])] if rows else None

    async def hold(self, conversation_id: int, held: list[int]) -> None:
        await self._raw("UPDATE department_wait SET held = ? WHERE conversation_id = ?",
                        [json.dumps(held), conversation_id])

    async def answered(self, conversation_id: int) -> list[int] | None:
        rows = await self._raw(
            "DELETE FROM department_wait WHERE conversation_id = ? RETURNING held",
            [conversation_id])
        return [int(i) for i in json.loads(rows[0]["held"])] if rows else None

    async def history(self, conversation_id: int, limit: int) -> list[Said]:
        rows = await self._raw(
            "SELECT kind, author_name, content FROM message WHERE conversation_id = ?"
            " AND kind IN ('customer', 'operator', 'note') ORDER BY id DESC LIMIT ?",
            [conversation_id, limit])
        said = []
        for r in reversed(rows):
            content = json_out(r["content"]) or {}
            said.append(Said(r["kind"], r["author_name"], str(content.get("text") or ""),
                             str(content.get("content_type") or "text")))
        return said

    async def unanswered(self, asked_before: datetime, limit: int = 200) -> list[int]:
        rows = await self._raw(
            "SELECT conversation_id FROM department_wait WHERE asked_at_us < ?"
            " ORDER BY asked_at_us LIMIT ?", [to_us(asked_before), limit])
        return [int(r["conversation_id"]) for r in rows]

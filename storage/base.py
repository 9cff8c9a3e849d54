"""Shared plumbing of the tortoise repositories: transactions and portable raw SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from tortoise.connection import get_connection
from tortoise.transactions import in_transaction


def to_us(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


class TortoiseBase:
    """A connection-bound repository base: one dialect check, portable `?` placeholders."""

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

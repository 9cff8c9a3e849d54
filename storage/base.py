"""Shared plumbing of the tortoise repositories: transactions and portable raw SQL."""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.asyncpg.client import TransactionWrapper as PgTransactionWrapper
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import SqliteTransactionWrapper
from tortoise.connection import get_connection, get_connections
from tortoise.transactions import in_transaction

from storage import pg_engine, sqlite_engine


def to_us(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def dt_out(value: Any) -> datetime | None:
    """A datetime column as read raw: SQLite gives tortoise's ISO text, asyncpg a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def json_out(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


# Rows per multi-row INSERT: well under SQLite's 32 766 and PostgreSQL's 65 535 parameters.
BULK_ROWS = 500


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def json_in(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class TortoiseBase:
    """A connection-bound repository base: one dialect check, portable `?` placeholders."""

    def __init__(self) -> None:
        self._pg = get_connection("default").capabilities.dialect == "postgres"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        conn = get_connection("default")
        if isinstance(conn, TransactionalDBClient):  # nested: a savepoint
            async with in_transaction("default"):
                yield
            return
        if isinstance(conn, pg_engine.FastAsyncpgClient):
            async with self._pg_transaction(conn):
                yield
            return
        raw = sqlite_engine.raw_connection(conn)
        if raw is None:
            async with in_transaction("default"):
                yield
            return
        # SQLite: BEGIN and COMMIT on the loop thread (see storage.sqlite_engine); ORM calls
        # inside still go through tortoise, on a transaction client over the same connection.
        async with conn._lock:
            sqlite_engine.run(raw, "BEGIN", ())
            token = get_connections().set("default", SqliteTransactionWrapper(conn))
            try:
                yield
                if conn.commit_syncs:  # synchronous=FULL: the commit fsyncs, keep it off the loop
                    await sqlite_engine.run_in_thread(raw, "COMMIT", ())
                else:
                    sqlite_engine.run(raw, "COMMIT", ())
            except BaseException:
                if raw.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        sqlite_engine.run(raw, "ROLLBACK", ())
                raise
            finally:
                get_connections().reset(token)

    @asynccontextmanager
    async def _pg_transaction(self, client: pg_engine.FastAsyncpgClient) -> AsyncIterator[None]:
        """A transaction on one of the engine's own connections, shown to tortoise as its
        TransactionWrapper (ORM calls inside join it)."""
        raw = await client.fast_acquire()
        try:
            tx = raw.transaction()
            with pg_engine.translated():
                await tx.start()
            wrapper = PgTransactionWrapper(client)
            wrapper._connection, wrapper.transaction = raw, tx
            token = get_connections().set("default", wrapper)
            try:
                yield
            except BaseException:
                if not raw.is_closed():
                    with contextlib.suppress(Exception):
                        await tx.rollback()
                raise
            else:
                with pg_engine.translated():
                    await tx.commit()
            finally:
                get_connections().reset(token)
        finally:
            client.fast_release(raw)

    def _sql(self, query: str) -> str:
        """Write queries with `?`; asyncpg wants `$1, $2, …`."""
        return _numbered(query) if self._pg else query

    def dt_in(self, value: datetime | None) -> Any:
        """A datetime parameter in the form tortoise itself stores (so ORM reads agree)."""
        if value is None or self._pg:
            return value
        return value.isoformat(" ")

    async def _raw(self, query: str, values: list[Any]) -> Sequence[Any]:
        conn = get_connection("default")
        if self._pg:
            if isinstance(conn, PgTransactionWrapper):  # inside transaction()
                async with conn._lock:
                    return await pg_engine.fetch(conn._connection, _numbered(query), values)
            if isinstance(conn, pg_engine.FastAsyncpgClient):
                raw = await conn.fast_acquire()
                try:
                    return await pg_engine.fetch(raw, _numbered(query), values)
                finally:
                    conn.fast_release(raw)
        else:
            sqlite = sqlite_engine.raw_connection(conn)
            if sqlite is not None:  # SQLite: on the loop thread, once tortoise is not using it
                if not sqlite.in_transaction and getattr(conn, "commit_syncs", False):
                    async with conn._lock:  # autocommit under synchronous=FULL: it fsyncs
                        return await sqlite_engine.run_in_thread(sqlite, query, values)
                if not conn._lock.locked():
                    return sqlite_engine.run(sqlite, query, values)
                async with conn._lock:
                    return sqlite_engine.run(sqlite, query, values)
        if "RETURNING" in query:  # tortoise's asyncpg execute_query drops an INSERT's rows
            return await conn.execute_query_dict(self._sql(query), values)
        _, rows = await conn.execute_query(self._sql(query), values)
        return rows


@functools.lru_cache(maxsize=512)
def _numbered(query: str) -> str:
    parts = query.split("?")
    out = [parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        out.append(f"${i}{part}")
    return "".join(out)

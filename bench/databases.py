"""Throwaway databases: a fresh PostgreSQL database for a relay subprocess, and a migrated
database (SQLite or PostgreSQL) opened in the benchmark's own process."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

PG_ADMIN_URL = os.environ.get(
    "RELAYDESK_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


def _asyncpg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.asynccontextmanager
async def pg_database(prefix: str = "relaydesk_bench") -> AsyncIterator[str]:
    """A fresh database on the PostgreSQL of RELAYDESK_BENCH_PG_URL, dropped afterwards."""
    import asyncpg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(_asyncpg_url(PG_ADMIN_URL))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield _with_db(PG_ADMIN_URL, name)
    finally:
        conn = await asyncpg.connect(_asyncpg_url(PG_ADMIN_URL))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def pg_settings() -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_url(PG_ADMIN_URL))
    try:
        out = {"version": str(await conn.fetchval("SHOW server_version"))}
        for name in ("fsync", "synchronous_commit", "wal_sync_method"):
            out[name] = str(await conn.fetchval(f"SHOW {name}"))
        return out
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def open_database_in_process(db: str, sqlite_name: str) -> AsyncIterator[None]:
    """A migrated database opened as this process's own (benchmarks of core and storage
    without a relay): `sqlite`, a file `sqlite_name` in a new temporary directory;
    `postgres`, a fresh database on the tests' server (RELAYDESK_TEST_PG_URL), dropped
    afterwards."""
    from storage.database import close_database, migrate, open_database
    from tests.dbs import PgDatabase

    pg = None
    if db == "sqlite":
        url = f"sqlite://{tempfile.mkdtemp()}/{sqlite_name}"
        await migrate(url)
    else:
        pg = PgDatabase()
        url = await pg.fresh()
    handle = await open_database(url, apply_migrations=False)
    try:
        yield
    finally:
        await close_database(handle)
        if pg is not None:
            await pg.drop()

"""Test databases: every storage and end-to-end test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

PG_URL = os.environ.get("RELAYDESK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
TABLES = ("delivery", "message_link", "message", "conversation", "identity", "customer",
          "sla_deadline", "sla_breach", "cursor", "faq_turn", "csat_survey",
          "customer_ban", "abuse_event", "department_wait", "web_event", "web_file",
          "rate_slot", "rate_pause", "group_spare", "first_post", "coalesced_part",
          "surge_period", "card_post")


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class PgDatabase:
    """One throwaway database per test session, migrated once and truncated per test."""

    def __init__(self, admin_url: str = PG_URL) -> None:
        self.admin_url = admin_url
        self.name = f"relaydesk_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.url = _with_db(admin_url, self.name)
        self.created = False
        self.migrated = False

    async def create(self) -> None:
        conn = await asyncpg.connect(self.admin_url.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
            self.created = True
        finally:
            await conn.close()

    async def fresh(self) -> str:
        """The database's URL, migrated and empty (created on first use)."""
        from storage.database import migrate

        if not self.created:
            await self.create()
            await migrate(self.url)
            self.migrated = True
        else:
            await self.truncate()
        return self.url

    async def truncate(self) -> None:
        conn = await asyncpg.connect(self.url.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    async def drop(self) -> None:
        conn = await asyncpg.connect(self.admin_url.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()

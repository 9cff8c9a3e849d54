"""Shared fixtures: databases (SQLite and PostgreSQL), the Telegram emulator, a running relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from storage.database import migrate
from tests.dbs import PgDatabase

pytest_plugins = ["tests.harness", "tests.vk_harness", "tests.max_harness", "tests.web_harness"]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[PgDatabase]:
    db = PgDatabase()
    try:
        yield db
    finally:
        if db.created:  # teardown runs outside any test's event loop
            asyncio.run(db.drop())


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "relaydesk.sqlite3"
        url = f"sqlite://{path}"
        await migrate(url)
        yield url
        return
    pg: PgDatabase = request.getfixturevalue("pg_database")
    yield await pg.fresh()

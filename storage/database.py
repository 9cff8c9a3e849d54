"""Database lifecycle: tortoise init/close and the built-in migrations."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tortoise import Tortoise

logger = logging.getLogger(__name__)

APP = "relaydesk"


def tortoise_config(url: str) -> dict[str, Any]:
    return {
        "connections": {"default": url},
        "apps": {
            APP: {
                "models": ["storage.models"],
                "migrations": "storage.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the developers' `tortoise makemigrations` (see pyproject.toml); never used at run time.
TORTOISE_ORM = tortoise_config("sqlite://data/makemigrations.sqlite3")


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite://") and ":memory:" not in url:
        Path(url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)


async def migrate(url: str) -> None:
    """Apply pending migrations (idempotent)."""
    from tortoise.migrations.api import migrate as run_migrations

    _ensure_sqlite_dir(url)
    await run_migrations(config=tortoise_config(url))
    await Tortoise.close_connections()


async def open_database(url: str, *, apply_migrations: bool) -> None:
    """Init tortoise before any task uses the ORM (tortoise 1.x keeps state in a context
    variable set here)."""
    _ensure_sqlite_dir(url)
    if apply_migrations:
        await migrate(url)
    await Tortoise.init(config=tortoise_config(url))


async def pending_migrations(url: str) -> list[str]:
    """Names of migrations not yet applied to the database at `url`."""
    from tortoise.connection import get_connection
    from tortoise.migrations.executor import MigrationExecutor

    config = tortoise_config(url)
    await Tortoise.init(config=config, init_connections=False)
    try:
        executor = MigrationExecutor(get_connection("default"), config["apps"])
        steps = await executor.plan(None)
        return [f"{s.migration.app_label}.{s.migration.name}" for s in steps if not s.backward]
    finally:
        await Tortoise.close_connections()


async def close_database() -> None:
    # Without this the process hangs at exit on SQLite (aiosqlite's thread).
    await Tortoise.close_connections()

"""Database lifecycle: tortoise init/close and the built-in migrations."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tortoise import Tortoise

logger = logging.getLogger(__name__)

APP = "relaydesk"


def _with_sqlite_pragmas(url: str) -> str:
    """WAL (tortoise's default) with synchronous=NORMAL: a commit survives the process
    being killed (kill -9), which is the crash relaydesk promises to survive; only an OS
    crash or power cut may drop the last commits. FULL would fsync on every commit and
    roughly double the cost of intake. An explicit `?synchronous=` in the URL wins."""
    if not url.startswith("sqlite://") or "synchronous=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}synchronous=NORMAL"


_ENGINES = {  # tortoise's engines, with relaydesk's raw hot path (see those modules)
    "tortoise.backends.sqlite": "storage.sqlite_engine",
    "tortoise.backends.asyncpg": "storage.pg_engine",
}


def _connection(url: str) -> str | dict[str, Any]:
    from tortoise.backends.base.config_generator import expand_db_url

    info = expand_db_url(_with_sqlite_pragmas(url))
    engine = _ENGINES.get(info.get("engine", ""))
    if engine is None:
        return url
    info["engine"] = engine
    return info


def tortoise_config(url: str) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(url)},
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
        path = Path(url.removeprefix("sqlite://").partition("?")[0])
        path.parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def _no_gc_during_ast() -> Iterator[None]:
    """tortoise's migration recorder defines a model class per run, and tortoise parses its
    source with `ast` (to read field comments). On CPython 3.11.7, a garbage collection
    that runs finalizers in the middle of that parse fails with "AST constructor recursion
    depth mismatch" (CPython gh-106905). Migrations run once at start; pausing the
    collector for them is cheap."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def migrate(url: str) -> None:
    """Apply pending migrations (idempotent)."""
    from tortoise.migrations.api import migrate as run_migrations

    _ensure_sqlite_dir(url)
    with _no_gc_during_ast():
        await run_migrations(config=tortoise_config(url))
    await Tortoise.close_connections()


async def open_database(url: str, *, apply_migrations: bool) -> Any:
    """Init tortoise before any task uses the ORM. Returns the handle to close.

    tortoise 1.x keeps its state in a context variable set here: tasks created afterwards
    inherit it, but code running in another context (a different task, a test fixture)
    would not see it, so the caller keeps the handle and closes exactly what it opened.
    """
    _ensure_sqlite_dir(url)
    if apply_migrations:
        await migrate(url)
    # tortoise caches compiled SQL per connection *name*, not per dialect; a process that
    # opens SQLite and then PostgreSQL (the test suite does) must not reuse SQLite's SQL.
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(url))
    from tortoise.context import get_current_context

    return get_current_context()


async def pending_migrations(url: str) -> list[str]:
    """Names of migrations not yet applied to the database at `url`."""
    from tortoise.connection import get_connection
    from tortoise.migrations.executor import MigrationExecutor

    config = tortoise_config(url)
    await Tortoise.init(config=config, init_connections=False)
    try:
        with _no_gc_during_ast():
            executor = MigrationExecutor(get_connection("default"), config["apps"])
            steps = await executor.plan(None)
        return [f"{s.migration.app_label}.{s.migration.name}" for s in steps if not s.backward]
    finally:
        await Tortoise.close_connections()


async def close_database(handle: Any = None) -> None:
    """Close the connections `open_database` made (or the current context's).

    Without this the process hangs at exit on SQLite (aiosqlite's thread)."""
    if handle is not None:
        await handle.close_connections()
    else:
        await Tortoise.close_connections()

"""tortoise's SQLite client, with relaydesk's raw hot path running on the event loop thread.

aiosqlite runs every statement on its own thread: the statement itself takes microseconds,
but the hop there and back (queue, thread wake-up, `call_soon_threadsafe`) costs ~0.1–0.3 ms
each, and a relayed message needs a dozen statements. This engine opens the same single
connection with `check_same_thread=False`, so `storage.base` can run its raw statements and
its transactions synchronously on the loop thread whenever the connection is not in use by
tortoise (tortoise holds the client's lock around every statement and transaction it runs,
so "lock free" means "aiosqlite's thread is idle").

A commit in WAL mode with `synchronous=NORMAL` does not fsync (see `storage.database`), so
running it on the loop thread does not stall the loop on the disk.

Selected by `storage.database.tortoise_config` for `sqlite://` URLs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiosqlite
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper
from tortoise.exceptions import IntegrityError, OperationalError


class FastSqliteClient(SqliteClient):
    async def create_connection(self, with_db: bool) -> None:
        if not self._connection:
            self._connection = await aiosqlite.connect(
                self.filename, isolation_level=None, check_same_thread=False
            )
            self._connection._conn.row_factory = sqlite3.Row
            for pragma, val in self.pragmas.items():
                cursor = await self._connection.execute(f"PRAGMA {pragma}={val}")
                await cursor.close()
            await self._post_connect()


client_class = FastSqliteClient


def raw_connection(client: Any) -> sqlite3.Connection | None:
    """The sqlite3 connection under a FastSqliteClient (or a transaction on it), else None."""
    parent = client._parent if isinstance(client, SqliteTransactionWrapper) else client
    if not isinstance(parent, FastSqliteClient) or parent._connection is None:
        return None
    return parent._connection._conn  # type: ignore[no-any-return]


@contextmanager
def translated() -> Iterator[None]:
    """sqlite3's errors as tortoise's, as tortoise's own client raises them."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(exc) from exc
    except sqlite3.OperationalError as exc:
        raise OperationalError(exc) from exc


def run(conn: sqlite3.Connection, query: str, values: Sequence[Any]) -> list[sqlite3.Row]:
    with translated():
        return conn.execute(query, values).fetchall()

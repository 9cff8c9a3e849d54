"""tortoise's SQLite client, with relaydesk's raw hot path running on the event loop thread.

aiosqlite runs every statement on its own thread: the statement itself takes microseconds,
but the hop there and back (queue, thread wake-up, `call_soon_threadsafe`) costs ~0.1–0.3 ms
each, and a relayed message needs a dozen statements. This engine opens the same single
connection with `check_same_thread=False`, so `storage.base` can run its raw statements and
its transactions synchronously on the loop thread whenever the connection is not in use by
tortoise (tortoise holds the client's lock around every statement and transaction it runs,
so "lock free" means "aiosqlite's thread is idle").

A commit in WAL mode with `synchronous=NORMAL` does not fsync (see `storage.database`), so
running it on the loop thread does not stall the loop on the disk. What does fsync is the
checkpoint (WAL → database file) that SQLite runs inside a commit every 1 000 pages: measured
here, it made the commit p99 2.5 ms and its max 8 ms, on the loop thread. So this engine turns
automatic checkpoints off and runs them itself: a PASSIVE checkpoint on a second connection,
in a worker thread, whenever the WAL has grown past `CHECKPOINT_BYTES` (checked every
`CHECKPOINT_EVERY` seconds). WAL mode lets a checkpoint run beside the writer, and a passive
one never waits for it.

Selected by `storage.database.tortoise_config` for `sqlite://` URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import aiosqlite
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper
from tortoise.exceptions import IntegrityError, OperationalError

logger = logging.getLogger(__name__)

CHECKPOINT_EVERY = 0.5  # seconds between looks at the WAL's size
CHECKPOINT_BYTES = 1 << 20  # checkpoint once the WAL is past this (SQLite's own: ~4 MB)


class FastSqliteClient(SqliteClient):
    _checkpointer: asyncio.Task[None] | None = None

    @property
    def commit_syncs(self) -> bool:
        """Whether a commit fsyncs (synchronous=FULL/EXTRA), so it must not run on the loop."""
        return str(self.pragmas.get("synchronous", "")).upper() in ("FULL", "EXTRA", "2", "3")

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
            if self.filename != ":memory:" and str(self.pragmas.get("journal_mode")).upper() \
                    == "WAL":
                cursor = await self._connection.execute("PRAGMA wal_autocheckpoint=0")
                await cursor.close()
                self._checkpointer = asyncio.create_task(
                    _checkpoints(self.filename, self.pragmas), name="sqlite-checkpoints"
                )

    async def close(self) -> None:
        task, self._checkpointer = self._checkpointer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # A statement still running in a worker thread holds the lock (run_in_thread).
        held = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                held = await self._lock.acquire()
        try:
            await super().close()
        finally:
            if held:
                self._lock.release()


async def _checkpoints(path: str, pragmas: dict[str, Any]) -> None:
    """Keep the WAL short, off the loop thread (see the module docstring).

    The connection lives on one worker thread of its own, which also closes it: cancelling
    this task (the database closes) cannot stop a checkpoint in progress, and closing the
    connection under it from the loop thread crashed the process (SIGSEGV in sqlite3)."""
    loop = asyncio.get_running_loop()
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA synchronous={pragmas.get('synchronous', 'NORMAL')}")
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY)
            try:
                await loop.run_in_executor(worker, _checkpoint_if_long, conn, f"{path}-wal")
            except sqlite3.Error as exc:  # busy or locked now: the next look tries again
                logger.debug("sqlite checkpoint skipped: %s", exc)
            except Exception:  # never let the WAL grow for good because of one failure
                logger.exception("sqlite checkpoint failed; trying again")
    finally:
        # Queued behind a checkpoint still running, if any: never under it.
        closing = loop.run_in_executor(worker, conn.close)
        worker.shutdown(wait=False)
        with contextlib.suppress(Exception):
            await asyncio.shield(closing)


def _checkpoint_if_long(conn: sqlite3.Connection, wal: str) -> None:
    try:
        if os.path.getsize(wal) < CHECKPOINT_BYTES:
            return
    except OSError:  # no WAL yet
        return
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


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


async def run_in_thread(
    conn: sqlite3.Connection, query: str, values: Sequence[Any]
) -> list[sqlite3.Row]:
    """`run` in a worker thread (a statement that fsyncs). A caller cancelled meanwhile
    still waits for the thread, holding whatever lock it holds: the connection is in use
    until the statement returns, and closing it under the statement crashes the process."""
    done = asyncio.get_running_loop().run_in_executor(None, run, conn, query, values)
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        while not done.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([done])
        raise

"""tortoise's asyncpg client, plus a few connections of relaydesk's own for the raw hot path.

Through tortoise, one raw statement costs ~0.38 ms on this kind of machine, against
~0.12 ms for the same `fetch` on a bare asyncpg connection: tortoise acquires a pool
connection (with its locks) and wraps every call. relaydesk's per-message statements are
all raw SQL (see `storage.base`), so they run on a small free list of plain asyncpg
connections instead; tortoise keeps its pool for the ORM (migrations, tests).

Transactions on these connections are exposed to tortoise as its own `TransactionWrapper`,
so an ORM call made inside `TortoiseBase.transaction()` joins the same transaction.

Selected by `storage.database.tortoise_config` for `postgres://` URLs.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

FAST_CONNECTIONS = 6
_CONNECT_PARAMS = set(inspect.signature(asyncpg.connect).parameters)
# The advisory-lock namespace of process numbers (see `owner`): b"rdsk".
LIVENESS_NS = int.from_bytes(b"rdsk", "big")

logger = logging.getLogger(__name__)


class FastAsyncpgClient(AsyncpgDBClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_free: list[asyncpg.Connection] = []  # idle, most recently used last
        self._fast_waiters: deque[asyncio.Future[asyncpg.Connection]] = deque()
        self._fast_all: list[asyncpg.Connection] = []
        self._fast_opening = 0
        self._closes = 0  # connections opened across a close() are closed, not kept
        self._openings: set[asyncio.Future[list[Any]]] = set()  # connects still under way
        # This process's number while it lives: a session-level advisory lock held on a
        # connection of its own, and the `relaydesk.owner` setting of the connections that
        # claim deliveries (migration 0007). PostgreSQL drops the lock when the process
        # dies, which tells the others that its claims are free.
        self.owner: int | None = None
        self._owner_conn: asyncpg.Connection | None = None
        self._owner_lock = asyncio.Lock()

    async def fast_acquire(self) -> asyncpg.Connection:
        """A connection of our own. Waiters are served first come, first served: a
        released connection goes straight to the longest waiter, never to a newcomer
        (with 50 customers on 6 connections, a free-for-all let some wait 0.3 s)."""
        while True:
            conn = self._take() if not self._fast_waiters else None
            if conn is not None:
                return conn
            if len(self._fast_all) + self._fast_opening < FAST_CONNECTIONS:
                if not self._fast_all and not self._fast_opening:
                    await self._open_all()
                else:
                    await self._open(1)  # one was lost: replace it
                continue
            waiter: asyncio.Future[asyncpg.Connection] = \
                asyncio.get_running_loop().create_future()
            self._fast_waiters.append(waiter)
            try:
                async with asyncio.timeout(1.0):
                    conn = await waiter
            except (TimeoutError, asyncio.CancelledError) as exc:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self.fast_release(waiter.result())  # handed over just now: pass it on
                elif waiter in self._fast_waiters:
                    self._fast_waiters.remove(waiter)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue  # e.g. the opener failed: look again (and open, if none is left)
            if not conn.is_closed():
                return conn
            self._drop(conn)

    def _take(self) -> asyncpg.Connection | None:
        while self._fast_free:
            conn = self._fast_free.pop()
            if not conn.is_closed():
                return conn
            self._drop(conn)  # lost while idle (server restart)
        return None

    def _drop(self, conn: asyncpg.Connection) -> None:
        if conn in self._fast_all:
            self._fast_all.remove(conn)

    async def _open_all(self) -> None:
        """All at once on first use: opening one takes milliseconds, and a connection opened
        in the middle of a burst would stall whoever waits for it. Counted as opening from
        before the first await: a burst's other first users wait for these instead of each
        opening its own six (40 customers at once opened 240 and ran the server out)."""
        self._fast_opening += FAST_CONNECTIONS
        try:
            if not self._pool:  # tortoise connects lazily; its settings are ours
                async with self._pool_init_lock:
                    if not self._pool:
                        await self.create_connection(with_db=True)
        finally:
            self._fast_opening -= FAST_CONNECTIONS
        await self._open(FAST_CONNECTIONS)  # counts them again before its first await

    def _connect_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self._template.items() if k in _CONNECT_PARAMS}

    async def hold_owner(self) -> int:
        """Take (or keep) this process's number: a session-level advisory lock on a
        connection of its own. After that connection was lost, the same number is taken
        again; meanwhile other processes may have freed our claims (they are sent again:
        at least once)."""
        async with self._owner_lock:
            if self._owner_conn is not None and not self._owner_conn.is_closed():
                assert self.owner is not None
                return self.owner
            return await self._take_owner()

    async def _take_owner(self) -> int:
        closes = self._closes
        conn = await asyncpg.connect(password=self.password, **self._connect_kwargs())
        try:
            owner = await self._lock_owner(conn)
        except BaseException:
            # A caller given up on (a stop cancels the outbox mid-query) leaves nobody to
            # close it: 'unclosed connection' when the loop ends. terminate() needs no await.
            conn.terminate()
            raise
        if closes != self._closes:  # closed meanwhile: close() has already run
            conn.terminate()
            self._owner_conn = None
            raise ConnectionError("the database was closed while its number was taken")
        return owner

    async def _lock_owner(self, conn: asyncpg.Connection) -> int:
        for _ in range(100):
            owner = self.owner or random.randint(1, 2**31 - 1)  # noqa: S311 - an id
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LIVENESS_NS, owner):
                if self.owner is not None and self._owner_conn is not None:
                    logger.warning("postgres: the connection holding process number %s was "
                                   "lost and is back; rows in flight may be sent twice", owner)
                self.owner, self._owner_conn = owner, conn
                return owner
            if self.owner is not None:
                logger.error("postgres: process number %s is taken by another session; "
                             "claims now rely on their lease", self.owner)
                self._owner_conn = conn
                return self.owner
        raise RuntimeError("no free process number")

    async def _open(self, n: int) -> None:
        closes = self._closes
        self._fast_opening += n
        try:
            kwargs = self._connect_kwargs()
            kwargs["server_settings"] = {**(kwargs.get("server_settings") or {}),
                                         "relaydesk.owner": str(await self.hold_owner())}
            opening = asyncio.ensure_future(asyncio.gather(
                *(asyncpg.connect(password=self.password, **kwargs) for _ in range(n)),
                return_exceptions=True,
            ))
            self._openings.add(opening)
            opening.add_done_callback(self._openings.discard)
            try:
                conns = await asyncio.shield(opening)
            except asyncio.CancelledError:
                # The caller gave up (a stop, a timeout), the connections still arrive:
                # kept or closed when they do. Cancelling the gather instead would drop
                # those already made, open and owned by nobody.
                opening.add_done_callback(lambda done: self._adopt_late(done, closes))
                raise
        finally:
            self._fast_opening -= n
        await self._keep(conns, closes)

    def _adopt_late(self, done: asyncio.Future[list[Any]], closes: int) -> None:
        if done.cancelled():
            return
        task = asyncio.ensure_future(self._keep(done.result(), closes))
        # Nobody awaits this one: its ConnectionError (closed meanwhile) is expected.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _keep(self, conns: list[Any], closes: int) -> None:
        if closes != self._closes:  # closed meanwhile: nobody would ever close these
            for conn in conns:
                if isinstance(conn, asyncpg.Connection):
                    await conn.close()
            raise ConnectionError("the database was closed while connections were opened")
        errors = [c for c in conns if isinstance(c, BaseException)]
        for conn in conns:
            if isinstance(conn, asyncpg.Connection):
                self._fast_all.append(conn)
                self.fast_release(conn)
        if errors and not self._fast_all:
            raise errors[0]

    def fast_release(self, conn: asyncpg.Connection) -> None:
        if conn.is_closed():  # lost (server restart, network): open a new one next time
            self._drop(conn)
            self._wake_one()
            return
        while self._fast_waiters:
            waiter = self._fast_waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._fast_free.append(conn)

    def _wake_one(self) -> None:
        """A connection was lost: the longest waiter looks again (and opens a new one)."""
        while self._fast_waiters:
            waiter = self._fast_waiters.popleft()
            if not waiter.done():
                waiter.set_exception(TimeoutError())
                return

    async def close(self) -> None:
        self._closes += 1
        # Connects a given-up caller left under way finish here and are closed now: after
        # this the loop may end (a test's, a stopping process's) before anyone adopts them.
        for opening in list(self._openings):
            for conn in await asyncio.gather(opening, return_exceptions=True):
                for made in conn if isinstance(conn, list) else []:
                    if isinstance(made, asyncpg.Connection) and not made.is_closed():
                        await made.close()
        for conn in self._fast_all:
            if not conn.is_closed():
                await conn.close()
        self._fast_all = []
        self._fast_free = []
        if self._owner_conn is not None and not self._owner_conn.is_closed():
            await self._owner_conn.close()  # the number is free again
        self._owner_conn = None
        await super().close()


client_class = FastAsyncpgClient


@contextmanager
def translated() -> Iterator[None]:
    """asyncpg's errors as tortoise's, as tortoise's own client raises them."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(exc) from exc
    except asyncpg.InvalidTransactionStateError as exc:
        raise TransactionManagementError(exc) from exc
    except (asyncpg.SyntaxOrAccessError, asyncpg.DataError) as exc:
        raise OperationalError(exc) from exc


async def fetch(conn: asyncpg.Connection, query: str, values: Sequence[Any]) -> list[Any]:
    with translated():
        return await conn.fetch(query, *values)  # type: ignore[no-any-return]

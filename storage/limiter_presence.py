"""Whether a shared limiter is the only one using its PostgreSQL database (see
storage.shared_limits).

Every limiter marks itself with a session-level advisory lock (`RATE_NS`, a random number)
on a connection of its own, and every `check_every` seconds counts the other marks. A check
that found none lets it decide alone for `alone_for` seconds, counted from before the check
was sent. A limiter whose mark was granted after such a check began sees the lone one's
mark, so it waits `alone_for` + `slack` from its grant before its first slot in the
database: by then the lone one has checked again and found it (or its lone time ran out
unrenewed), and the slots the lone one wrote in the background have landed. A mark lost
with its connection is taken again, and that wait starts over.

Becoming alone (first check, or after others were seen), the slots and pauses in the
database are handed to the limiter's windows: a process that just stopped (a restart, a
peer gone) still holds its sends of the last window against this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import asyncpg
from tortoise.connection import get_connection

from storage.pg_engine import FastAsyncpgClient

logger = logging.getLogger(__name__)

RATE_NS = int.from_bytes(b"rdrl", "big")  # advisory-lock namespace of limiters present
ALONE_FOR = 0.5  # seconds a check that found no other limiter is good for
SLACK = 0.25  # more seconds a newcomer waits: the lone one's background writes land
LOAD_SECONDS = 86_400  # slots older than any window a platform has are not taken over

_OTHERS = (
    "SELECT count(*) AS others FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND classid::bigint = $1 AND objsubid = 2 AND objid::bigint <> $2"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_NOW_US = "(extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT"
_SLOTS = (f"SELECT key, {_NOW_US} - at_us AS age_us FROM rate_slot"
          f" WHERE at_us > {_NOW_US} - $1")
_PAUSES = f"SELECT key, until_us - {_NOW_US} AS left_us FROM rate_pause WHERE until_us > {_NOW_US}"

# The limiter's windows and pauses get what the others left, in this process's clock.
Load = Callable[[dict[str, list[float]], dict[str, float]], None]


class Presence:
    def __init__(self, load: Load, monotonic: Callable[[], float] = time.monotonic, *,
                 alone_for: float = ALONE_FOR, slack: float = SLACK) -> None:
        self._load = load
        self._now = monotonic
        self.alone_for = alone_for
        self.slack = slack
        self.check_every = alone_for / 3
        self._id = random.randint(1, 2**31 - 1)  # noqa: S311 - an id
        self._conn: asyncpg.Connection | None = None
        self._granted = 0.0
        self._alone_until = 0.0
        self._shared_from: float | None = None  # None: not checked since the mark was taken
        self._load_due = True  # others may have sent since the windows last took over
        self._task: asyncio.Task[None] | None = None
        self._first: asyncio.Future[None] | None = None  # the first check, under way or done
        self.stopped = False
        self.checks = 0

    def alone(self) -> bool:
        """No other limiter, as of a check still good now."""
        return self._marked() and self._now() < self._alone_until

    def may_share(self) -> bool:
        """Slots may be taken in the database: marked, and every lone limiter that could
        have missed the mark has had its next check."""
        return self._marked() and self._shared_from is not None \
            and self._now() >= self._shared_from

    def until_shared(self) -> float:
        """Seconds until `may_share` is worth asking again."""
        if not self._marked() or self._shared_from is None:
            return self.check_every
        return max(self._shared_from - self._now(), 0.001)

    def _marked(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        """The first check (awaited: its answer decides the first send), then the checks in
        the background. Raises what connecting raises. The check runs as a task of its own:
        a caller given up on (a send's timeout) neither cancels it midway (a connection
        opened and never closed) nor starts another."""
        if self.stopped or (self._task is not None and not self._task.done()):
            return
        first = self._first
        if first is None or (first.done() and (first.cancelled() or first.exception())):
            first = self._first = asyncio.ensure_future(self._begin())
        await asyncio.shield(first)

    async def _begin(self) -> None:
        await self.check()
        if not self.stopped:
            self._task = asyncio.create_task(self._run(), name="limiter-presence")

    async def stop(self) -> None:
        """For good: the checks end and the mark goes (a start under way finishes first)."""
        self.stopped = True
        if self._first is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._first)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        conn, self._conn = self._conn, None
        self._alone_until, self._shared_from = 0.0, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close()  # the mark goes with it

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.check_every)
            try:
                await self.check()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError,
                    TimeoutError) as exc:
                self._alone_until = 0.0
                if not failing:
                    logger.warning("shared rate limits: presence check failed (%s); slots "
                                   "are taken in the database meanwhile", exc)
                failing = True
            else:
                failing = False

    async def check(self) -> None:
        if not self._marked():
            await self._mark()
        conn = self._conn
        assert conn is not None
        sent = self._now()
        others = await conn.fetchval(_OTHERS, RATE_NS, self._id)
        self.checks += 1
        if others:
            self._alone_until, self._load_due = 0.0, True
            if self._shared_from is None:
                self._shared_from = self._granted + self.alone_for + self.slack
            return
        if self._load_due:
            await self._take_over(conn)
            self._load_due = False
        self._alone_until = sent + self.alone_for
        if self._shared_from is None:
            self._shared_from = self._granted

    async def _mark(self) -> None:
        old, self._conn = self._conn, None
        if old is not None:
            logger.warning("shared rate limits: the presence connection was lost; slots wait "
                           "%.2fs once it is back", self.alone_for + self.slack)
            with contextlib.suppress(Exception):
                await old.close()
        client = get_connection("default")
        assert isinstance(client, FastAsyncpgClient)
        if not client._template:  # tortoise connects lazily: its first connection sets these
            client.fast_release(await client.fast_acquire())
        conn = await asyncpg.connect(password=client.password, **client._connect_kwargs())
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", RATE_NS,
                                          self._id):
                self._id = random.randint(1, 2**31 - 1)  # noqa: S311 - taken: another
        except BaseException:
            conn.terminate()  # no await: a cancelled caller may not get to finish one
            raise
        self._conn, self._granted = conn, self._now()
        self._alone_until, self._shared_from, self._load_due = 0.0, None, True

    async def _take_over(self, conn: asyncpg.Connection) -> None:
        slots = await conn.fetch(_SLOTS, LOAD_SECONDS * 1_000_000)
        pauses = await conn.fetch(_PAUSES)
        now = self._now()  # after the answers: the ages count from a later instant
        sent: dict[str, list[float]] = {}
        for row in slots:
            sent.setdefault(row["key"], []).append(now - row["age_us"] / 1_000_000)
        self._load(sent, {row["key"]: now + row["left_us"] / 1_000_000 for row in pauses})

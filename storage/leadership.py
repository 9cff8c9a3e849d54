"""Who does the one-at-a-time work when several processes share one PostgreSQL database:
polling (Telegram allows one getUpdates consumer) and the scheduled jobs.

A role is a session-level advisory lock held on a connection of its own. When the holder
dies its connection closes and PostgreSQL frees the lock; every other process tries to take
free roles every `retry` seconds, so a dead leader's work moves within about that long. A
holder checks its connection on the same beat and gives a role up as soon as the connection
is gone (another process may hold it by then). No new moving part: the database every
process already needs is the arbiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib

import asyncpg

logger = logging.getLogger(__name__)
LEADER_NS = 0x52_44_4C  # "RDL": the advisory-lock namespace of roles (see LIVENESS_NS)


def role_key(role: str) -> int:
    return zlib.crc32(role.encode()) & 0x7FFFFFFF


class Leadership:
    def __init__(self, dsn: str, roles: list[str], retry: float = 1.0) -> None:
        self._dsn = dsn.replace("postgres://", "postgresql://", 1)
        self._roles = list(roles)
        self._retry = retry
        self._conn: asyncpg.Connection | None = None
        self._held: dict[str, asyncio.Event] = {r: asyncio.Event() for r in roles}
        self._lost: dict[str, asyncio.Event] = {r: asyncio.Event() for r in roles}
        self._task: asyncio.Task[None] | None = None

    def holds(self, role: str) -> bool:
        return self._held[role].is_set()

    async def wait_held(self, role: str) -> None:
        await self._held[role].wait()

    async def wait_lost(self, role: str) -> None:
        await self._lost[role].wait()

    async def give_up(self, role: str) -> None:
        """Stop leading `role` for good (this process stopped that work): another process
        takes it on its next try."""
        if role in self._roles:
            self._roles.remove(role)
        if self.holds(role):
            self._held[role].clear()
            self._lost[role].set()
            conn = self._conn
            if conn is not None and not conn.is_closed():
                try:
                    await conn.fetchval("SELECT pg_advisory_unlock($1, $2)", LEADER_NS,
                                        role_key(role))
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    logger.warning("leadership: could not release %s; it is freed when "
                                   "this process ends", role)
            logger.info("this process gave up leading %s", role)

    async def start(self) -> None:
        """Take what is free now (so a lone process leads from its first second), then
        keep trying in the background."""
        await self._beat()
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._give_up_all("stopping")
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close()  # frees our locks at once: no wait for a follower
        self._conn = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._retry)
            await self._beat()

    async def _beat(self) -> None:
        try:
            if self._conn is None or self._conn.is_closed():
                self._give_up_all("its connection was lost")
                self._conn = await asyncpg.connect(self._dsn, timeout=self._retry * 5)
            await self._conn.fetchval("SELECT 1", timeout=self._retry * 5)
            for role in self._roles:
                if not self.holds(role) and await self._conn.fetchval(
                        "SELECT pg_try_advisory_lock($1, $2)", LEADER_NS, role_key(role)):
                    logger.info("this process now leads %s", role)
                    self._lost[role].clear()
                    self._held[role].set()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            logger.warning("leadership: the database does not answer (%s)", exc)
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.terminate()
            self._give_up_all("the database does not answer")

    def _give_up_all(self, why: str) -> None:
        for role in self._roles:
            if self.holds(role):
                logger.warning("this process no longer leads %s: %s", role, why)
                self._held[role].clear()
                self._lost[role].set()

"""SQLite serves one relaydesk process: a second `relaydesk run` on the same file would poll
Telegram beside the first (409s, lost order) and fight over the outbox. An exclusive lock
on `<database>.lock` refuses it with a clear message; PostgreSQL is for several processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DatabaseInUse(Exception):
    """Another process holds this SQLite database."""


class SqliteProcessLock:
    def __init__(self, database: str) -> None:
        self.path = Path(database + ".lock")
        self._fd: int | None = None

    def take(self) -> None:
        """Hold the lock until `release()` (or the process ends: the kernel frees it)."""
        if not self.path.parent.is_dir():
            return  # the database will fail to open with its own clear message
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DatabaseInUse(
                f"storage.url: another relaydesk process (pid {holder}) is using "
                f"{self.path.with_suffix('')}. SQLite serves one process; stop the other one, "
                "or move to PostgreSQL to run several (docs/deploy.md)."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

"""``Notifier``: wakes long polls and ``wait_for`` on every change of an emulator's world."""

from __future__ import annotations

import asyncio


class Notifier:
    """A condition variable that can be signalled from synchronous code."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, max_wait: float) -> None:
        """Return on the next notify() or after ``max_wait`` seconds, whichever is first."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait({waiter}, timeout=max(max_wait, 0))
        finally:
            self._waiters.discard(waiter)

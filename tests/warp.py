"""An event loop whose clock skips the time it would spend idle: a fake clock for asyncio.

Timers, `asyncio.sleep`, `wait_for` and everything built on `loop.time()` run at once when
nothing else can happen, so an hour of retries, album waits and flood windows takes as
long as the work done in it. Time still runs while something is really in progress: code
holding `busy()` (a database call on the wire) is waited for in real time, so the clock
never jumps past the moment an answer arrives.

Before each jump, `on_idle(now, until)` is called once (if set) and may start work of its
own (a check of the system's state); the jump waits until that work is done too.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import time
from collections.abc import Callable, Iterator
from typing import Any


class _WarpSelector:
    def __init__(self, inner: selectors.BaseSelector, loop: WarpLoop) -> None:
        self._inner = inner
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        loop = self._loop
        if timeout is None or timeout <= 0 or loop.busy_count:
            return self._inner.select(timeout)
        events = self._inner.select(0)
        if events:
            return events
        if loop.on_idle is not None and not loop.idle_checked:
            loop.idle_checked = True
            loop.call_soon(loop.on_idle, loop.time(), loop.time() + timeout)
            return []
        loop.idle_checked = False
        loop.offset += timeout
        loop.jumps += 1
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class WarpLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0
        self.busy_count = 0
        self.jumps = 0
        self.idle_checked = False
        self.on_idle: Callable[[float, float], None] | None = None
        self._selector = _WarpSelector(self._selector, self)  # type: ignore[assignment]

    def time(self) -> float:
        return time.monotonic() + self.offset

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Real work in progress (I/O the loop cannot see the end of): no jumps."""
        self.busy_count += 1
        try:
            yield
        finally:
            self.busy_count -= 1


def run_warped(main: Callable[[WarpLoop], Any]) -> Any:
    """Run `main(loop)` (a coroutine function) to completion on a new WarpLoop."""
    loop = WarpLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

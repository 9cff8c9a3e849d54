"""Who is listening for which visitor: an event stored for a visitor wakes only that
visitor's sockets and polls (no broadcast; idle visitors cost one small object each)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class Hub:
    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Event]] = {}

    @contextmanager
    def listen(self, visitor: str) -> Iterator[asyncio.Event]:
        """An event set whenever something new is stored for `visitor`."""
        signal = asyncio.Event()
        self._listeners.setdefault(visitor, set()).add(signal)
        try:
            yield signal
        finally:
            listeners = self._listeners.get(visitor)
            if listeners is not None:
                listeners.discard(signal)
                if not listeners:
                    del self._listeners[visitor]

    def listening(self, visitor: str) -> int:
        return len(self._listeners.get(visitor, ()))

    def wake(self, visitor: str) -> None:
        for signal in self._listeners.get(visitor, ()):
            signal.set()

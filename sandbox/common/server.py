"""What both emulators' API servers share: their components, the request log, cut answers."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from aiohttp import web

RecordT = TypeVar("RecordT")


class LoggingApiServer(Generic[RecordT]):
    """An API server over an emulator's state, limiter and faults that logs every call.

    Logging a call wakes ``wait_for`` and long polls, since tests wait on the log too.
    """

    def __init__(self, state: Any, limiter: Any, faults: Any) -> None:
        self.state = state
        self.limiter = limiter
        self.faults = faults
        self.requests: list[RecordT] = []

    def log(self, record: RecordT) -> None:
        self.requests.append(record)
        self.state.notifier.notify()


def abort(request: web.Request) -> web.StreamResponse:
    """Cut the connection: the client sees a network error, not an HTTP answer."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()

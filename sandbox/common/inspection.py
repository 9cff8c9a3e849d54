"""Reading an emulator's request log and waiting for its world to reach a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


class _Record(Protocol):
    method: str

    @property
    def ok(self) -> bool: ...


RecordT = TypeVar("RecordT", bound=_Record)
ViolationT = TypeVar("ViolationT")


class RequestLogInspection(Generic[RecordT, ViolationT]):
    """The request log, flood-control violations and ``wait_for`` of an emulator.

    Each platform says what its timeout report calls itself (``_report_title``), which
    method's successful calls are long polls to leave out of it (``_poll_method``), what to
    suspect when nothing was called (``_report_hint``) and how one call reads
    (``_report_line``).
    """

    # The emulator's components (see each platform's ``EmulatorBase``).
    server: Any
    limiter: Any
    state: Any

    _poll_method: str
    _report_title: str
    _report_hint: str

    @property
    def requests(self) -> list[RecordT]:
        return self.server.requests

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[RecordT]:
        """The request log filtered by method (case-insensitive) and success."""
        return [
            r
            for r in self.requests
            if (method is None or r.method.lower() == method.lower())
            and (ok is None or r.ok == ok)
        ]

    def clear_requests(self) -> None:
        self.server.requests.clear()

    @property
    def violations(self) -> list[ViolationT]:
        return self.limiter.violations

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - bounding the wait is this helper's job
        message: str | None = None,
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every state change and at
        least every 0.1 s, so predicates over external state work too); returns its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(message, timeout))
            await self.state.notifier.wait(min(remaining, 0.1))

    def _timeout_report(self, message: str | None, timeout: float) -> str:
        lines = [f"condition not met within {timeout}s" + (f": {message}" if message else "")]
        recent = [r for r in self.requests if r.method != self._poll_method or not r.ok]
        lines.append(f"last {min(len(recent), 15)} {self._report_title}:")
        lines.extend(self._report_line(record) for record in recent[-15:])
        if not recent:
            lines.append(f"  {self._report_hint}")
        return "\n".join(lines)

    def _report_line(self, record: RecordT) -> str:
        raise NotImplementedError

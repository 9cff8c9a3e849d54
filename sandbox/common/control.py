"""JSON plumbing of the HTTP control API (``/_control/...``) both emulators serve.

Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}`` (HTTP 400, or
404 for an unknown action). Which reads and actions exist is each emulator's business.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiohttp import web

Action = Callable[[dict[str, Any]], Awaitable[Any]]


class _Record(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class _RequestLog(Protocol):
    def calls(self, method: str | None = None, *, ok: bool | None = None) -> Sequence[_Record]: ...


class ControlRoutes:
    """GET reads and POST actions with the error handling and JSON answers they share.

    ``control_errors`` is the emulator's own error for a refused control call; it answers 400
    like a missing field does.
    """

    def __init__(self, emulator: _RequestLog, control_errors: type[Exception]) -> None:
        self.actions: dict[str, Action] = {}
        self._log = emulator
        self._control_errors = control_errors

    def _get(self, read: Callable[[dict[str, str]], Any]) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            try:
                return ok_response(read(dict(request.query)))
            except (self._control_errors, KeyError, ValueError) as error:
                return fail_response(error)

        return handler

    async def _post(self, request: web.Request) -> web.Response:
        action = self.actions.get(request.match_info["action"])
        if action is None:
            unknown = KeyError(f"unknown control action {request.match_info['action']!r}")
            return fail_response(unknown, 404)
        try:
            body = await request.json() if request.body_exists else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            return ok_response(await action(body))
        except (self._control_errors, KeyError, ValueError, TypeError) as error:
            return fail_response(error)

    def _requests(self, query: dict[str, str]) -> Any:
        records = self._log.calls(query.get("method"))
        return [r.to_json() for r in records[-int(query.get("last", 1000)) :]]


def ok_response(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result}, dumps=_dumps)


def fail_response(error: Exception, status: int = 400) -> web.Response:
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    if isinstance(error, KeyError) and status == 400:
        text = f"missing field {text!r}"
    return web.json_response({"ok": False, "error": str(text)}, status=status)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)

"""The widget's HTTP part: `widget.js` for the site's pages, the visitor API under /web/api
and the WebSocket at /web/ws; long polling (`GET /web/api/events`) where WebSockets are
blocked.

Every event a page sees has an id; a page (re)connects with the last id it saw and gets what
came after, so a dropped socket, a sleeping laptop or a reload loses and doubles nothing.
A visitor's message is acknowledged (with its event id) only after intake committed it; the
page resends unacknowledged ones with the same client id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from .channel import PageContext
from .guard import Guard, error_response, parse_json, read_limited
from .hub import Hub
from .visitors import WebError, WebVisitors

logger = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
JSON_LIMIT = 64 * 1024
HELLO_WAIT = 10.0


@dataclass(frozen=True, slots=True)
class WidgetLook:
    title: str
    color: str
    max_upload: int
    upload_types: tuple[str, ...]
    poll_wait: float
    max_sockets: int
    recheck: float = 15.0


def _bearer(request: web.Request) -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ").strip()


def _int(value: str | None, name: str) -> int:
    if value is None or not value.isdigit() or len(value) > 18:
        raise WebError(400, "bad_" + name, f"{name}: expected a whole number")
    return int(value)


class WebPart:
    """Mounted on the one HTTP server (bots/http.py) as a sub-app under /web."""

    name = "web"

    def __init__(self, visitors: WebVisitors, hub: Hub, guard: Guard, look: WidgetLook
                 ) -> None:
        self._visitors = visitors
        self._hub = hub
        self._guard = guard
        self._look = look
        self._sockets: set[web.WebSocketResponse] = set()

    def mount(self, app: web.Application) -> None:
        # The widget's files are public (a stylesheet is fetched without an Origin header).
        app.router.add_get("/widget.js", self._static("widget.js", "application/javascript"))
        app.router.add_get("/web/widget.css", self._static("widget.css", "text/css"))
        sub = web.Application(middlewares=[self._guard.middleware])
        sub.router.add_post("/api/session", self._session)
        sub.router.add_post("/api/messages", self._message)
        sub.router.add_post("/api/press", self._press)
        sub.router.add_post("/api/upload", self._upload)
        sub.router.add_get("/api/events", self._poll)
        sub.router.add_get("/api/files/{event}/{index}", self._file)
        sub.router.add_route("OPTIONS", "/{tail:.*}", self._options)
        sub.router.add_get("/ws", self._socket)
        sub.on_shutdown.append(self._close_sockets)
        app.add_subapp("/web", sub)

    def _static(self, name: str, mime: str) -> Callable[[web.Request], Any]:
        body = (STATIC / name).read_bytes()

        async def serve(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type=mime, headers={
                "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff",
                "Access-Control-Allow-Origin": "*"})
        return serve

    async def _options(self, request: web.Request) -> web.Response:
        return web.Response(status=204)  # the guard answers preflights before this

    def _visitor(self, request: web.Request) -> str:
        visitor = self._visitors.tokens.visitor_of(_bearer(request))
        if visitor is None:
            raise WebError(401, "bad_token", "the visitor token is missing or not valid")
        return visitor

    async def _body(self, request: web.Request) -> dict[str, Any]:
        return parse_json(await read_limited(request, JSON_LIMIT))

    async def _session(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        visitor, token = self._visitors.session(data.get("token"))
        look = self._look
        return web.json_response({
            "token": token, "title": look.title, "color": look.color,
            "max_upload": look.max_upload, "upload_types": list(look.upload_types)})

    async def _message(self, request: web.Request) -> web.Response:
        visitor = self._visitor(request)
        data = await self._body(request)
        self._guard.by_visitor(visitor)
        event_id = await self._visitors.say(visitor, data, PageContext.read(data))
        return web.json_response({"ack": data["client_id"], "id": event_id})

    async def _press(self, request: web.Request) -> web.Response:
        visitor = self._visitor(request)
        data = await self._body(request)
        self._guard.by_visitor(visitor)
        return web.json_response({"answer": await self._visitors.press(visitor, data)})

    async def _upload(self, request: web.Request) -> web.Response:
        visitor = self._visitor(request)
        self._guard.by_visitor(visitor)
        mime = request.content_type
        if mime not in self._look.upload_types:
            raise WebError(415, "bad_type", "this kind of file can't be sent here")
        data = await read_limited(request, self._look.max_upload)
        if not data:
            raise WebError(400, "empty", "the file is empty")
        name = unquote(request.headers.get("X-File-Name") or "file")[:200] or "file"
        file_id = await self._visitors.upload(visitor, name, mime, data)
        return web.json_response({"file": file_id})

    async def _poll(self, request: web.Request) -> web.Response:
        """Long polling: what came after `after`, at once or as soon as something does."""
        visitor = self._visitor(request)
        after = _int(request.query.get("after", "0"), "after")
        with self._hub.listen(visitor) as signal:
            events = await self._visitors.events(visitor, after)
            if not events:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), self._look.poll_wait)
                events = await self._visitors.events(visitor, after)
        return web.json_response({"events": events})

    async def _file(self, request: web.Request) -> web.Response:
        visitor = self._visitor(request)
        event_id = _int(request.match_info["event"], "event")
        index = _int(request.match_info["index"], "index")
        name, mime, data = await self._visitors.file(visitor, event_id, index)
        inline = mime.startswith("image/") and mime != "image/svg+xml"
        disposition = "inline" if inline else "attachment"
        return web.Response(body=data, content_type=mime if inline else
                            "application/octet-stream", headers={
                                "Content-Disposition": f'{disposition}; filename="file"',
                                "X-File-Name": json.dumps(name)})

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=JSON_LIMIT)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await self._converse(ws)
        finally:
            self._sockets.discard(ws)
            if not ws.closed:
                await ws.close()
        return ws

    async def _converse(self, ws: web.WebSocketResponse) -> None:
        try:
            first = await ws.receive(timeout=HELLO_WAIT)
            hello = parse_json(first.data) if first.type is WSMsgType.TEXT else {}
        except (TimeoutError, WebError):
            hello = {}
        visitor = self._visitors.tokens.visitor_of(hello.get("token"))
        if hello.get("type") != "hello" or visitor is None:
            await ws.send_json({"type": "error", "code": "bad_token",
                                "message": "say hello with a valid token first"})
            await ws.close(code=4401, message=b"bad token")
            return
        if self._hub.listening(visitor) >= self._look.max_sockets:
            await ws.close(code=4429, message=b"too many tabs")
            return
        after = hello["after"] if isinstance(hello.get("after"), int) else 0
        context = PageContext.read(hello)
        with self._hub.listen(visitor) as signal:
            pusher = asyncio.create_task(self._push(ws, visitor, after, signal))
            try:
                await ws.send_json({"type": "ready"})
                async for message in ws:
                    if message.type is not WSMsgType.TEXT:
                        break
                    await ws.send_json(await self._frame(visitor, message.data, context))
            finally:
                pusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pusher

    async def _push(self, ws: web.WebSocketResponse, visitor: str, after: int,
                    signal: asyncio.Event) -> None:
        """Everything after `after`, then each new event as its visitor is woken."""
        while not ws.closed:
            signal.clear()
            events = await self._visitors.events(visitor, after)
            if events:
                await ws.send_json({"type": "events", "events": events})
                after = events[-1]["id"]
                continue
            # Woken when this process stores an event for the visitor; another process's
            # (several on one PostgreSQL) is found at the next recheck.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), self._look.recheck)

    async def _frame(self, visitor: str, raw: str, context: PageContext) -> dict[str, Any]:
        """One frame from the page, answered on the same socket (errors too)."""
        data: dict[str, Any] = {}
        try:
            data = parse_json(raw)
            kind = data.get("type")
            if kind == "send":
                self._guard.by_visitor(visitor)
                event_id = await self._visitors.say(visitor, data, context)
                return {"type": "ack", "client_id": data["client_id"], "id": event_id}
            if kind == "press":
                self._guard.by_visitor(visitor)
                answer = await self._visitors.press(visitor, data)
                return {"type": "pressed", "event": data.get("event"), "answer": answer}
            if kind == "ping":
                return {"type": "pong"}
            raise WebError(400, "bad_frame", "unknown frame type")
        except Exception as exc:  # e.g. the database away: nothing acknowledged, resent later
            if not isinstance(exc, WebError):
                logger.exception("a web visitor's frame failed")
                exc = WebError(503, "retry", "not stored; send it again")
            answer_: dict[str, Any] = {"type": "error", "code": exc.code,
                                       "message": str(exc)}
            if isinstance(data.get("client_id"), str):
                answer_["client_id"] = data["client_id"]
            if exc.retry_after:
                answer_["retry_after"] = exc.retry_after
            return answer_

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server stopping")

    async def drop_sockets(self) -> None:
        """Close every page's socket (the pages reconnect and resume): for tests and
        restarts of the part."""
        await self._close_sockets(web.Application())


__all__ = ["WebPart", "WidgetLook", "error_response"]

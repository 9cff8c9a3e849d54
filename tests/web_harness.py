"""Website visitors as the tests see them: a page's real HTTP and WebSocket calls against
the running App's HTTP server (the same protocol widget.js speaks)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from bots.app import App
from tests.harness import WAIT, StartRelay

ORIGIN = "https://shop.example.com"
SECRET = "s3cret-for-tests-" + "x" * 32


def web_config(extra: str = "", visitor_rate: str = "{count: 100, per: 1s}",
               ip_rate: str = "{count: 1000, per: 1s}", origin: str = ORIGIN) -> str:
    return f"""
http: {{listen: '127.0.0.1:0'}}
web:
  secret: "{SECRET}"
  allowed_origins: ["{origin}"]
  visitor_rate: {visitor_rate}
  ip_rate: {ip_rate}
  poll_wait: 2s
  recheck: 300ms
  max_upload: 65536
{extra}
"""


class Visitor:
    """One visitor's page (several `Tab`s share the token, as tabs share localStorage)."""

    def __init__(self, base: str, session: aiohttp.ClientSession, token: str) -> None:
        self.base = base
        self.session = session
        self.token = token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def tab(self, after: int = 0, **context: Any) -> Tab:
        ws = await self.session.ws_connect(f"{self.base}/web/ws")
        await ws.send_json({"type": "hello", "token": self.token, "after": after,
                            "lang": "en", "page": "https://shop.example.com/cart",
                            "utc_offset": 180,
                            **context})
        ready = await ws.receive_json(timeout=WAIT)
        assert ready == {"type": "ready"}, ready
        return Tab(ws, after)

    async def post(self, path: str, body: Any, **kw: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.post(f"{self.base}/web/api/{path}", json=body,
                                     headers=self.auth, **kw) as answer:
            return answer.status, await answer.json()

    async def says(self, text: str, client_id: str | None = None) -> int:
        """Over HTTP (the fallback): the acknowledged event id."""
        status, body = await self.post("messages", {"client_id": client_id or _cid(),
                                                    "text": text})
        assert status == 200, body
        return int(body["id"])

    async def poll(self, after: int) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.base}/web/api/events",
                                    params={"after": str(after)}, headers=self.auth) as answer:
            assert answer.status == 200, await answer.text()
            return list((await answer.json())["events"])


class Tab:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, after: int) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []
        self.last = after
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = message.json()
            self.frames.append(frame)
            if frame.get("type") == "events":
                for event in frame["events"]:
                    assert event["id"] > self.last, "an event shown twice or out of order"
                    self.last = event["id"]
                    self.events.append(event)

    async def send(self, frame: dict[str, Any]) -> dict[str, Any]:
        """A frame, and the answer to it (ack, pressed, error)."""
        seen = len(self.frames)
        await self.ws.send_json(frame)
        await until(lambda: any(f["type"] != "events" for f in self.frames[seen:]))
        return next(f for f in self.frames[seen:] if f["type"] != "events")

    async def says(self, text: str, client_id: str | None = None) -> dict[str, Any]:
        return await self.send({"type": "send", "client_id": client_id or _cid(),
                                "text": text})

    async def receives(self, text: str, kind: str = "operator") -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((e for e in self.events if e["kind"] == kind
                         and e.get("text") == text), None)
        await until(lambda: found() is not None)
        event = found()
        assert event is not None
        return event

    def texts(self, kind: str | None = None) -> list[str]:
        return [e.get("text", "") for e in self.events if kind is None or e["kind"] == kind]

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


_ids = itertools.count()


def _cid() -> str:
    return f"cid-{next(_ids)}-{uuid.uuid4().hex[:8]}"


async def until(predicate: Callable[[], Any], timeout: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


class Site:
    """The relay's web part, reached from a page of ORIGIN."""

    def __init__(self, app: App, session: aiohttp.ClientSession) -> None:
        assert app.services is not None and app.services.http is not None
        self.app = app
        self.base = f"http://127.0.0.1:{app.services.http.port}"
        self.session = session

    async def visitor(self, token: str | None = None) -> Visitor:
        async with self.session.post(f"{self.base}/web/api/session",
                                     json={"token": token}) as answer:
            assert answer.status == 200, await answer.text()
            body = await answer.json()
        return Visitor(self.base, self.session, body["token"])


StartSite = Callable[..., Awaitable[Site]]


@pytest.fixture
async def start_site(start_relay: StartRelay) -> AsyncIterator[StartSite]:
    sessions: list[aiohttp.ClientSession] = []

    async def start(extra: str = "", **kw: Any) -> Site:
        app = await start_relay(extra=web_config(**kw) + extra)
        session = aiohttp.ClientSession(headers={"Origin": ORIGIN})
        sessions.append(session)
        return Site(app, session)

    try:
        yield start
    finally:
        for session in sessions:
            await session.close()


@pytest.fixture
async def site(start_site: StartSite) -> Site:
    return await start_site()

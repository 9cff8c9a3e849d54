"""A round-robin reverse proxy in front of several webhook-mode relaydesk processes, as the
benchmark of several processes (bench.processes) and their tests (tests/test_processes.py)
run them. It imports nothing of bench's own, so a test importing it gets no SIGTERM
handler (bench.common)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

import aiohttp
from aiohttp import web

from sandbox.telegram.webhooks import SECRET_HEADER

# What a process needs of the emulator's request; the rest (Host, Content-Length) is the
# proxy's own.
_PASSED_HEADERS = ("content-type", SECRET_HEADER.lower())


class RoundRobin:
    """Each webhook request to the next process in turn; no answer makes it 502, so the
    emulator sends the update again (as a reverse proxy in front of the processes would)."""

    def __init__(self, ports: Sequence[int]) -> None:
        self.ports = list(ports)
        self._next = 0
        self.port = 0
        self.forwarded: Counter[int] = Counter()  # updates taken (answered 200), by port
        self.statuses: Counter[int] = Counter()  # webhook answers by HTTP status
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        """Listens on a free local port; returns its address (relaydesk's public_url)."""
        app = web.Application()
        app.router.add_post("/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        # No pool limit of its own: the emulator's webhook max_connections (at most 100)
        # bounds the requests in flight.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return f"http://127.0.0.1:{self.port}"

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        port = self.ports[self._next % len(self.ports)]
        self._next += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() in _PASSED_HEADERS}
        body = await request.read()
        started = time.monotonic()
        try:
            async with self._session.post(f"http://127.0.0.1:{port}{request.path}",
                                          data=body, headers=headers) as got:
                answer = await got.read()
                self.statuses[got.status] += 1
                if got.status == 200:
                    self.forwarded[port] += 1
                    self.taken(port, body, started)
                return web.Response(status=got.status, body=answer)
        except aiohttp.ClientError:
            return web.Response(status=502)

    def taken(self, port: int, body: bytes, started: float) -> None:
        """A process took an update (`started`: when the proxy passed it on, monotonic):
        subclasses keep what they look at."""

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

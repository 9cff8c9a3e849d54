"""Serving an emulator's aiohttp app on a local port: start, stop, ``async with``."""

from __future__ import annotations

import ssl
from typing import Any, Self

from aiohttp import web


class ServedApp:
    """Start/stop for an emulator whose ``state`` has ``closing`` and a ``notifier``.

    Subclasses say which routes they serve (``_routes``) and the largest request body they
    take (``client_max_size``).
    """

    state: Any
    base_url: str
    client_max_size: int
    _runner: web.AppRunner | None = None

    def _routes(self) -> list[list[web.RouteDef]]:
        raise NotImplementedError

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.client_max_size)
        for routes in self._routes():
            app.add_routes(routes)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0, *,
                    ssl_context: ssl.SSLContext | None = None) -> str:
        """Serve on host:port (0: any free port); over TLS with `ssl_context`."""
        self.state.closing = False
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        scheme = "https" if ssl_context is not None else "http"
        self.base_url = f"{scheme}://{bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        self.state.closing = True
        self.state.notifier.notify()  # waiting long polls answer right away
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

"""The one HTTP server (`http:` in config.yaml). Each web-facing part (the widget, a
webhook, metrics, health) belongs to its adapter and mounts its own routes or sub-application
here; this module only owns the listening socket, the order of start and stop, and which
client address to believe.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Protocol

from aiohttp import web

from bots.config_http import HttpConfig

logger = logging.getLogger(__name__)
CLIENT_IP = web.AppKey("client_ip", object)


class HttpPart(Protocol):
    """A part of the server: mounts its routes (or a sub-app) before the server starts."""

    name: str

    def mount(self, app: web.Application) -> None: ...


class ClientAddress:
    """The address a request came from: X-Forwarded-For is believed only from a trusted
    proxy (`http.trusted_proxies`), read right to left, skipping the trusted hops."""

    def __init__(self, trusted: list[str]) -> None:
        self._trusted = [ipaddress.ip_network(item, strict=False) for item in trusted]

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def of(self, request: web.Request) -> str:
        peer = request.remote or ""
        if not self._is_trusted(peer):
            return peer
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if not self._is_trusted(hop):
                return hop
        return peer


class HttpServer:
    """One aiohttp application; parts are added before `start()`."""

    def __init__(self, config: HttpConfig) -> None:
        self.config = config
        self.app = web.Application(client_max_size=1024 * 1024)
        self.client = ClientAddress(config.trusted_proxies)
        self.app[CLIENT_IP] = self.client
        self.parts: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def add(self, part: HttpPart) -> None:
        if self._runner is not None:
            raise RuntimeError("HTTP parts are added before the server starts")
        part.mount(self.app)
        self.parts.append(part.name)

    async def start(self) -> None:
        host, port = self.config.host_port
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        logger.info("http: listening on %s:%s (%s)", host, self.port,
                    ", ".join(self.parts) or "no parts")

    async def stop(self) -> None:
        """Stop accepting requests; requests in progress get a short grace."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

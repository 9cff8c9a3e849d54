"""The shared HTTP server (`http:`): config errors with key paths, which client address is
believed, and the server the App runs with its parts mounted and stopped with the App."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bots.app import App, StartupError
from bots.config_http import HttpConfig
from bots.http import ClientAddress, HttpServer
from tests.config_cases import load, make, only_problem
from tests.harness import StartRelay


@pytest.mark.parametrize(("http", "path", "words"), [
    ({"listen": "localhost"}, "http.listen", "host:port"),
    ({"listen": "127.0.0.1:70000"}, "http.listen", "host:port"),
    ({"public_url": "support.example.com"}, "http.public_url", "absolute"),
    ({"public_url": "ftp://support.example.com"}, "http.public_url", "absolute"),
    ({"public_url": "https://x.example.com/?a=1"}, "http.public_url", "query"),
    ({"trusted_proxies": ["proxy.local"]}, "http.trusted_proxies", "not an IP"),
])
def test_bad_http_values_name_their_key(http: dict[str, object], path: str,
                                         words: str) -> None:
    problem = only_problem(make(http=http))
    assert problem.path.startswith(path)
    assert words in problem.message


def test_http_defaults_and_public_urls() -> None:
    config = load(make(http={"public_url": "https://support.example.com/"}))
    assert config.http is not None
    assert config.http.host_port == ("127.0.0.1", 8080)
    assert config.http.url_for("/widget.js") == "https://support.example.com/widget.js"
    assert HttpConfig(listen="[::1]:9000").host_port == ("::1", 9000)
    assert HttpConfig(listen="127.0.0.1:9000").url_for("a") == "http://127.0.0.1:9000/a"
    assert load(make()).http is None


def _request(peer: str, forwarded: str | None) -> web.Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    transport = type("T", (), {"get_extra_info": lambda self, name, default=None:
                               (peer, 1234) if name == "peername" else default})()
    return make_mocked_request("GET", "/", headers=headers, transport=transport)


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    client = ClientAddress(["127.0.0.1", "10.0.0.0/8"])
    assert client.of(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    assert client.of(_request("127.0.0.1", "1.2.3.4")) == "1.2.3.4"
    # A visitor can put anything in the header; only the hops our proxies added count.
    assert client.of(_request("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.1.1")) == "1.2.3.4"
    assert client.of(_request("127.0.0.1", None)) == "127.0.0.1"
    assert client.of(_request("127.0.0.1", "10.0.0.1")) == "127.0.0.1"


class HelloPart:
    name = "hello"

    def mount(self, app: web.Application) -> None:
        async def hello(request: web.Request) -> web.Response:
            return web.Response(text="hello")
        app.router.add_get("/hello", hello)


async def test_the_app_listens_with_its_parts_and_stops(start_relay: StartRelay) -> None:
    app: App = await start_relay(extra="http: {listen: '127.0.0.1:0'}")
    assert app.services is not None and app.services.http is not None
    http = app.services.http
    with pytest.raises(RuntimeError):
        http.add(HelloPart())  # parts are mounted before the server starts
    assert http.port
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{http.port}/nothing") as answer:
        assert answer.status == 404
    port = http.port
    await app.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_a_taken_port_is_a_startup_error(start_relay: StartRelay) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match="http.listen"):
            await start_relay(extra=f"http: {{listen: '127.0.0.1:{port}'}}")
    finally:
        taken.close()


async def test_a_part_serves_its_routes() -> None:

    server = HttpServer(HttpConfig(listen="127.0.0.1:0"))
    server.add(HelloPart())
    await server.start()
    try:
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{server.port}/hello") as answer:
            assert (answer.status, await answer.text()) == (200, "hello")
    finally:
        await server.stop()
    assert server.parts == ["hello"]

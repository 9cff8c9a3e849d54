"""The widget in a real browser: Debian's headless chromium driven by Selenium, on a host
page of an allowed origin that embeds widget.js with the one line the README shows.

Selenium is synchronous and the relay runs on the test's event loop: every browser call
goes to a thread (`Page.run`), so the server keeps serving while the browser waits.
"""

from __future__ import annotations

import asyncio
import html
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from tests.harness import WAIT

ROOT = Path(__file__).resolve().parents[1]
DRIVER = "/usr/bin/chromedriver"
HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<style>* {{ color: red !important; font-size: 40px !important; }}</style></head>
<body><h1>Our shop</h1>
<script src="{relay}/widget.js" data-lang="{lang}" {extra} async></script></body></html>"""
# Reads the widget's state from its shadow root, as a site owner's test would.
MESSAGES_JS = """
const root = document.querySelector('[data-relaydesk="widget"]')?.shadowRoot;
if (!root) return null;
return [...root.querySelectorAll('[data-relaydesk="message"]')].map(m => ({
  author: m.dataset.author, id: m.dataset.id || null, pending: m.hasAttribute('data-pending'),
  text: m.querySelector('.text').textContent,
  images: [...m.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth > 0).length,
  files: [...m.querySelectorAll('[data-relaydesk="file"]')].map(a => a.textContent)}));
"""


def _chromium() -> webdriver.Chrome:
    subprocess.run(["bash", str(ROOT / "scripts" / "install_chromium.sh")], check=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@pytest.fixture(scope="module")
def chromium() -> Iterator[webdriver.Chrome]:
    driver = _chromium()
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """One browser tab showing the host page."""

    def __init__(self, driver: WebDriver, handle: str) -> None:
        self.driver = driver
        self.handle = handle

    async def run(self, call: Callable[[WebDriver], Any]) -> Any:
        def in_tab() -> Any:
            if self.driver.current_window_handle != self.handle:
                self.driver.switch_to.window(self.handle)
            return call(self.driver)
        return await asyncio.to_thread(in_tab)

    async def wait(self, check: Callable[[WebDriver], Any], timeout: float = WAIT) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.run(check)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the page did not get there: {await self.messages()}")
            await asyncio.sleep(0.05)

    async def part(self, name: str) -> WebElement:
        def find(d: WebDriver) -> WebElement:
            host = d.find_element("css selector", '[data-relaydesk="widget"]')
            return host.shadow_root.find_element("css selector", f'[data-relaydesk="{name}"]')
        await self.wait(lambda d: d.execute_script(
            "return !!document.querySelector('[data-relaydesk=\"widget\"]')"))
        return await self.run(find)

    async def open(self) -> None:
        """Open the panel (a reload keeps it open: then there is nothing to click)."""
        launcher = await self.part("launcher")
        closed = await self.run(lambda d: d.execute_script(
            "return document.querySelector('[data-relaydesk=\"widget\"]').shadowRoot"
            ".querySelector('section').hidden"))
        if closed:
            await self.run(lambda d: launcher.click())
        await self.wait(lambda d: d.execute_script(
            "return document.querySelector('[data-relaydesk=\"widget\"]').shadowRoot"
            ".querySelector('[data-relaydesk=\"status\"]').hidden"))

    async def says(self, text: str) -> None:
        box, send = await self.part("input"), await self.part("send")
        await self.run(lambda d: (box.send_keys(text), send.click()))

    async def attaches(self, path: Path) -> None:
        attach = await self.part("attach")
        await self.run(lambda d: attach.send_keys(str(path)))

    async def messages(self) -> list[dict[str, Any]]:
        return list(await self.run(lambda d: d.execute_script(MESSAGES_JS)) or [])

    async def sees(self, text: str, author: str = "operator") -> dict[str, Any]:
        async def find() -> dict[str, Any] | None:
            return next((m for m in await self.messages()
                         if m["text"] == text and m["author"] == author and m["id"]), None)
        deadline = asyncio.get_running_loop().time() + WAIT
        while (found := await find()) is None:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{text!r} not shown: {await self.messages()}")
            await asyncio.sleep(0.05)
        return found

    async def reload(self) -> None:
        await self.run(lambda d: d.refresh())


class HostSite:
    """The company's site: a page embedding the widget (its origin is the allowed one)."""

    def __init__(self) -> None:
        self.relay = ""
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        async def page(request: web.Request) -> web.Response:
            extra = 'data-transport="poll"' if request.query.get("poll") else ""
            if request.query.get("name"):
                extra += f' data-name="{html.escape(request.query["name"])}"'
            return web.Response(text=HOST_PAGE.format(
                relay=self.relay, lang=request.query.get("lang", "en"), extra=extra),
                content_type="text/html")
        app = web.Application()
        app.router.add_get("/", page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def page(self, driver: WebDriver, query: str = "", new_tab: bool = False) -> Page:
        def visit() -> str:
            if new_tab:
                driver.switch_to.new_window("tab")
            driver.get(f"{self.origin}/{query}")
            return driver.current_window_handle
        return Page(driver, await asyncio.to_thread(visit))


@pytest.fixture
async def host_site() -> AsyncIterator[HostSite]:
    site = HostSite()
    await site.start()
    try:
        yield site
    finally:
        await site.stop()


def fresh_browser(driver: WebDriver) -> None:
    """One tab, no storage: a new visitor."""
    for handle in driver.window_handles[1:]:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(driver.window_handles[0])
    driver.get("about:blank")
    driver.delete_all_cookies()

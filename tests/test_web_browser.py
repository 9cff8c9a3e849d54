"""The widget in headless Chromium (Selenium): what a visitor does on the company's site,
answered from the operator topic in the Telegram emulator."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from urllib.parse import urlencode

import pytest
from selenium import webdriver

from bots.app import App
from bots.sandbox_page import SandboxPage
from tests.browser import HostSite, Page, chromium, fresh_browser, host_site
from tests.harness import Desk, relay_config
from tests.web_harness import Site, StartSite, web_config

__all__ = ["chromium", "host_site"]  # fixtures
PNG = base64.b64decode(  # 1×1 pixel
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


async def _start(start_site: StartSite, host: HostSite) -> Site:
    site = await start_site(origin=host.origin)
    host.relay = site.base
    return site


async def _images(page: Page) -> int:
    return sum(m["images"] for m in await page.messages())


async def test_send_and_receive_with_markup_shown_as_text(
        start_site: StartSite, host_site: HostSite, desk: Desk,
        chromium: webdriver.Chrome) -> None:
    fresh_browser(chromium)
    await _start(start_site, host_site)
    name = "<img src=x onerror=window.__pwned=4>"
    page = await host_site.page(chromium, query="?" + urlencode({"name": name}))
    await page.open()
    evil = '<img src=x onerror="window.__pwned=1">'
    await page.says(evil)
    await page.sees(evil, author="visitor")
    topic = await desk.topic_with(evil)
    assert any(t["name"].startswith(name) for t in desk.topics())
    operator = desk.operator('<img src=x onerror="window.__pwned=3">')
    await operator.says(topic, '<script>window.__pwned=2</script> hi <b>there</b>')
    shown = await page.sees("<script>window.__pwned=2</script> hi <b>there</b>")
    names = await page.run(lambda d: d.execute_script(
        "return [...document.querySelector('[data-relaydesk=\"widget\"]').shadowRoot"
        ".querySelectorAll('.name')].map(n => n.textContent)"))
    assert names == ['<img src=x onerror="window.__pwned=3">']
    assert shown["id"]
    assert await page.run(lambda d: d.execute_script("return window.__pwned")) is None
    # The widget's own CSS is applied (the configured colour), the host page's loud CSS
    # does not reach into it.
    style = await page.run(lambda d: d.execute_script(
        "const root = document.querySelector('[data-relaydesk=\"widget\"]').shadowRoot;"
        "const s = getComputedStyle(root.querySelector('[data-relaydesk=\"launcher\"]'));"
        "return [s.backgroundColor, s.position, s.fontSize,"
        " getComputedStyle(root.querySelector('.text')).color]"))
    assert style[:2] == ["rgb(43, 108, 176)", "fixed"] and style[2] != "40px"
    assert style[3] != "rgb(255, 0, 0)"


async def test_reconnect_reload_and_two_tabs(start_site: StartSite, host_site: HostSite,
                                            desk: Desk, chromium: webdriver.Chrome) -> None:
    fresh_browser(chromium)
    site = await _start(start_site, host_site)
    page = await host_site.page(chromium)
    await page.open()
    await page.says("hello from the browser")
    topic = await desk.topic_with("hello from the browser")
    olga = desk.operator("Olga")
    await olga.says(topic, "one")
    await page.sees("one")
    # The server drops every socket; answers written meanwhile arrive once, in order.
    web = site.app.services.web if site.app.services else None
    assert web is not None and web.part is not None
    await web.part.drop_sockets()
    await olga.says(topic, "two")
    await olga.says(topic, "three")
    await page.sees("three")
    texts = [m["text"] for m in await page.messages()]
    assert texts == ["hello from the browser", "one", "two", "three"]
    # A reload keeps the history.
    await page.reload()
    await page.open()
    await page.sees("three")
    assert [m["text"] for m in await page.messages()] == texts
    # A second tab shows the same conversation, and what either side says reaches both.
    other = await host_site.page(chromium, new_tab=True)
    await other.open()
    await other.sees("three")
    await other.says("from the second tab")
    await page.sees("from the second tab", author="visitor")
    await olga.says(topic, "to both tabs")
    await page.sees("to both tabs")
    await other.sees("to both tabs")
    assert [m["text"] for m in await other.messages()] == \
        [m["text"] for m in await page.messages()]


async def test_attachments_both_ways_and_the_closed_conversation(
        start_site: StartSite, host_site: HostSite, desk: Desk, chromium: webdriver.Chrome,
        tmp_path: Path) -> None:
    fresh_browser(chromium)
    await _start(start_site, host_site)
    page = await host_site.page(chromium, query="?lang=ru")
    await page.open()
    placeholder = await page.run(lambda d: d.execute_script(
        "return document.querySelector('[data-relaydesk=\"widget\"]').shadowRoot"
        ".querySelector('[data-relaydesk=\"input\"]').placeholder"))
    assert placeholder == "Напишите сообщение…"
    notes = tmp_path / "order-notes.txt"
    notes.write_text("order 58: two boxes")
    await page.attaches(notes)
    await desk.wait(lambda: any(m.get("document") for m in desk.messages()))
    [posted] = [m for m in desk.messages() if m.get("document")]
    assert posted["document"]["file_name"] == "order-notes.txt"
    topic = int(posted["message_thread_id"])
    await desk.operator("Olga").sends(topic, "photo", caption="here is your label", data=PNG)
    await page.sees("here is your label")
    deadline = asyncio.get_running_loop().time() + 10
    while await _images(page) == 0:  # the photo, fetched with the token, is displayed
        assert asyncio.get_running_loop().time() < deadline, await page.messages()
        await asyncio.sleep(0.05)
    await desk.operator("Olga").says(topic, "/close")
    await page.wait(lambda d: d.execute_script(
        "return document.querySelector('[data-relaydesk=\"widget\"]').shadowRoot"
        ".querySelector('[data-relaydesk=\"closed\"]')?.textContent"))


async def test_long_polling_where_sockets_are_blocked(
        start_site: StartSite, host_site: HostSite, desk: Desk,
        chromium: webdriver.Chrome) -> None:
    fresh_browser(chromium)
    await _start(start_site, host_site)
    page = await host_site.page(chromium, query="?poll=1")
    await page.open()
    await page.says("polling hello")
    topic = await desk.topic_with("polling hello")
    await desk.operator("Olga").says(topic, "polling answer")
    await page.sees("polling answer")


async def test_the_sandbox_page_chats_both_ways_under_its_strict_csp(
        db_url: str, desk: Desk, chromium: webdriver.Chrome) -> None:
    fresh_browser(chromium)
    olga = desk.operator("Olga")
    app = App(relay_config(db_url, desk.emu.base_url, desk.group, extra=web_config()),
              http_parts=[SandboxPage(desk.emu, desk.group, olga.user)])
    await app.start()
    try:
        assert app.services is not None and app.services.http is not None
        url = f"http://127.0.0.1:{app.services.http.port}/sandbox"
        page = Page(chromium, await asyncio.to_thread(lambda: (chromium.get(url),
                                                              chromium.current_window_handle)[1]))
        await page.open()
        await page.says("hello from the sandbox")
        await desk.topic_with("hello from the sandbox")
        answer = await page.wait(lambda d: d.find_elements("css selector", ".topic input"))
        await page.run(lambda d: (answer[0].send_keys("answered from the operator pane"),
                                  answer[0].submit()))
        await page.sees("answered from the operator pane")
        errors = await page.run(lambda d: [e for e in d.get_log("browser")
                                           if "Content Security Policy" in e["message"]])
        assert errors == []
    finally:
        await app.stop()

"""The widget endpoint is the one part anonymous people reach: origins, tokens, rate limits,
sizes and types, odd input. Plain HTTP and WebSocket, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import io

import aiohttp
import pytest

from adapters.web.tokens import VisitorTokens
from tests.harness import Desk
from tests.web_harness import ORIGIN, SECRET, Site, StartSite, until


async def _count(site: Site, table: str) -> int:
    web = site.app.services.web if site.app.services else None
    assert web is not None
    rows = await web.store._raw(f"SELECT COUNT(*) AS n FROM {table}", [])
    return int(rows[0]["n"])


@pytest.mark.parametrize("origin", ["https://evil.example.com", "https://shop.example.com.evil.io",
                                    "http://shop.example.com", None])
async def test_only_allowed_origins_get_in(site: Site, origin: str | None) -> None:
    visitor = await site.visitor()
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession(headers=headers) as other:
        async with other.post(f"{site.base}/web/api/session", json={}) as answer:
            assert answer.status == 403
            assert (await answer.json())["error"] == "origin_not_allowed"
            assert "Access-Control-Allow-Origin" not in answer.headers
        async with other.post(f"{site.base}/web/api/messages", headers=visitor.auth,
                              json={"client_id": "cid-12345678", "text": "hi"}) as answer:
            assert answer.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await other.ws_connect(f"{site.base}/web/ws")
        assert refused.value.status == 403
    assert await _count(site, "web_event") == 0


async def test_an_allowed_origin_gets_cors_headers(site: Site) -> None:
    async with site.session.options(f"{site.base}/web/api/messages", headers={
            "Access-Control-Request-Method": "POST"}) as answer:
        assert answer.status == 204
        assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    async with site.session.post(f"{site.base}/web/api/session", json={}) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        assert SECRET not in await answer.text()


def _tampered(token: str) -> list[str]:
    visitor, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    other_id = ("A" if visitor[0] != "A" else "B") + visitor[1:]
    forged = VisitorTokens(b"another secret, guessed " * 2).issue()[1]
    return [f"{visitor}.{flipped}", f"{other_id}.{signature}", visitor, f"{visitor}.",
            forged, "", "x" * 5000, f"{visitor}.{signature}x"]


async def test_forged_and_tampered_tokens_are_refused(site: Site, desk: Desk) -> None:
    anna = await site.visitor()
    await anna.says("anna's secret question")
    for bad in _tampered(anna.token):
        anna_copy = type(anna)(site.base, site.session, bad)
        status, body = await anna_copy.post("messages", {"client_id": "cid-forged-1",
                                                         "text": "let me in"})
        assert (status, body["error"]) == (401, "bad_token"), bad
        async with site.session.get(f"{site.base}/web/api/events?after=0",
                                    headers=anna_copy.auth) as answer:
            assert answer.status == 401
        ws = await site.session.ws_connect(f"{site.base}/web/ws")
        await ws.send_json({"type": "hello", "token": bad, "after": 0})
        assert (await ws.receive_json())["code"] == "bad_token"
        assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4401
    # A session asked with a forged token is a new visitor, not Anna.
    stranger = await site.visitor(token=_tampered(anna.token)[0])
    assert stranger.token != anna.token
    assert await stranger.poll(0) == []
    # Anna's own token still works, and a replayed one is the same visitor (same page).
    again = await site.visitor(token=anna.token)
    assert again.token == anna.token
    assert [e["text"] for e in await again.poll(0)] == ["anna's secret question"]


async def test_guessed_ids_read_nothing_of_another_visitor(site: Site, desk: Desk) -> None:
    anna, boris = await site.visitor(), await site.visitor()
    anna_tab = await anna.tab()
    await anna_tab.says("my address is 5 Elm St")
    topic = await desk.topic_with("my address is 5 Elm St")
    await desk.operator("Olga").sends(topic, "photo", caption="your invoice")
    invoice = await anna_tab.receives("your invoice")
    assert invoice["files"][0]["url"] == f"files/{invoice['id']}/0"
    # Boris tries every id up to Anna's and her file.
    for event_id in range(0, invoice["id"] + 2):
        async with site.session.get(f"{site.base}/web/api/files/{event_id}/0",
                                    headers=boris.auth) as answer:
            assert answer.status == 404
    status, body = await boris.post("press", {"event": invoice["id"], "payload": "ss:helped:1"})
    assert (status, body["error"]) == (404, "no_such_button")
    assert await boris.poll(0) == []
    # Anna can fetch it.
    async with site.session.get(f"{site.base}/web/api/files/{invoice['id']}/0",
                                headers=anna.auth) as answer:
        assert answer.status == 200 and len(await answer.read()) > 0
    await anna_tab.close()


async def test_rate_limits_answer_429_with_retry_after(start_site: StartSite) -> None:
    site = await start_site(visitor_rate="{count: 3, per: 1m}", ip_rate="{count: 30, per: 1m}")
    visitor = await site.visitor()
    for n in range(3):
        await visitor.says(f"message {n}")
    status, body = await visitor.post("messages", {"client_id": "cid-too-many", "text": "4th"})
    assert (status, body["error"]) == (429, "rate_limited")
    async with site.session.post(f"{site.base}/web/api/messages", headers=visitor.auth,
                                 json={"client_id": "cid-too-many", "text": "4th"}) as answer:
        assert answer.status == 429 and 1 <= int(answer.headers["Retry-After"]) <= 60
    tab = await visitor.tab()
    refused = await tab.says("over the socket")
    assert refused["code"] == "rate_limited" and refused["retry_after"] >= 1
    assert refused["client_id"]
    # Another visitor is not held back by this one…
    await (await site.visitor()).says("someone else")
    # …but one address asking too often is.
    statuses = []
    for _ in range(30):
        async with site.session.post(f"{site.base}/web/api/session", json={}) as answer:
            statuses.append(answer.status)
    assert statuses[-1] == 429
    await tab.close()


async def test_bad_input_gets_a_clear_answer_and_stores_nothing(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    url = f"{site.base}/web/api/messages"
    cases: list[tuple[object, int, str]] = [
        (b"{not json", 400, "bad_json"),
        (b"[1, 2]", 400, "bad_json"),
        (b'{"client_id": "short", "text": "hi"}', 400, "bad_client_id"),
        (b'{"client_id": "cid-12345678", "text": 42}', 413, "too_long"),
        (b'{"client_id": "cid-12345678", "text": "   "}', 400, "empty"),
        (b'{"client_id": "cid-12345678", "text": "' + b"a" * 5000 + b'"}', 413, "too_long"),
        (b'{"client_id": "cid-12345678", "text": "x", "file": 999}', 404, "no_such_file"),
        (b"x" * (10 * 1024 * 1024), 413, "too_large"),
    ]
    for raw, status, code in cases:
        async with site.session.post(url, data=io.BytesIO(raw), headers=visitor.auth) as answer:
            assert answer.status == status, raw[:40]
            assert (await answer.json())["error"] == code
    tab = await visitor.tab()
    assert (await tab.send({"type": "nonsense"}))["code"] == "bad_frame"
    await tab.ws.send_str("{oops")
    await until(lambda: any(f.get("code") == "bad_json" for f in tab.frames))
    # A frame of 10 MB closes that socket (1009), and only that one.
    with contextlib.suppress(ConnectionError):  # the server closes while it is sent
        await tab.ws.send_str("x" * (10 * 1024 * 1024))
    await tab.close()
    assert tab.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert await _count(site, "web_event") == 0 and await _count(site, "message") == 0
    await visitor.says("still serving")
    await desk.topic_with("still serving")


async def test_uploads_of_the_wrong_type_or_size_are_refused(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    url = f"{site.base}/web/api/upload"
    async with site.session.post(url, data=b"MZ\x90\x00", headers={
            **visitor.auth, "Content-Type": "application/x-msdownload"}) as answer:
        assert answer.status == 415
    async with site.session.post(url, data=b"\x89PNG" + b"0" * 70000, headers={
            **visitor.auth, "Content-Type": "image/png"}) as answer:
        assert answer.status == 413
    assert await _count(site, "web_file") == 0
    async with site.session.post(url, data=b"hello file", headers={
            **visitor.auth, "Content-Type": "text/plain", "X-File-Name": "notes.txt"}) as answer:
        assert answer.status == 200
        file_id = (await answer.json())["file"]
    # Another visitor can't attach it.
    boris = await site.visitor()
    status, body = await boris.post("messages", {"client_id": "cid-steal-1", "text": "mine",
                                                 "file": file_id})
    assert (status, body["error"]) == (404, "no_such_file")


async def test_markup_is_text_in_the_topic(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    evil = "<img src=x onerror=alert(1)> <b>&amp;</b>"
    await visitor.says(evil)
    topic = await desk.topic_with(evil)  # shown exactly as typed: nothing parsed
    assert topic

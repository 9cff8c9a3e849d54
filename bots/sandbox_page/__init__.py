"""`relaydesk sandbox`'s page: a shop page with the chat widget, and the emulated operator
group beside it, so a newcomer chats as a visitor and answers as an operator in one browser.

Served by the one HTTP server under /sandbox; the operator pane reads and writes the
in-process Telegram emulator as the operator. Strict Content-Security-Policy: scripts and
styles only from this server, no inline code, everything shown as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.telegram import TelegramEmulator

HERE = Path(__file__).parent
FILES = {"desk.js": "application/javascript", "desk.css": "text/css"}


def csp(host: str) -> str:
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
            f"connect-src 'self' ws://{host} wss://{host}; base-uri 'none'; form-action 'none';"
            " frame-ancestors 'none'")


class SandboxPage:
    name = "sandbox"

    def __init__(self, emu: TelegramEmulator, group: int, operator: Any) -> None:
        self._emu = emu
        self._group = group
        self._operator = operator

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/sandbox", self._page)
        app.router.add_get("/sandbox/{name:desk\\.(?:js|css)}", self._file)
        app.router.add_get("/sandbox/api/desk", self._desk)
        app.router.add_post("/sandbox/api/desk", self._say)

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=(HERE / "page.html").read_text(), content_type="text/html",
                            headers={"Content-Security-Policy": csp(request.host),
                                     "X-Content-Type-Options": "nosniff"})

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(body=(HERE / name).read_bytes(), content_type=FILES[name],
                            headers={"X-Content-Type-Options": "nosniff"})

    async def _desk(self, request: web.Request) -> web.Response:
        emu, group = self._emu, self._group
        topics = []
        for topic in emu.topics(group):
            thread = topic["message_thread_id"]
            messages = [{"from": (m.get("from") or {}).get("first_name", ""),
                         "bot": bool((m.get("from") or {}).get("is_bot")),
                         "text": m.get("text") or m.get("caption") or _kind(m)}
                        for m in emu.messages(group, thread_id=thread)
                        if "forum_topic_created" not in m]
            topics.append({"id": thread, "name": topic["name"],
                           "closed": bool(topic.get("closed")), "messages": messages})
        return web.json_response({"operator": self._operator.first_name, "topics": topics})

    async def _say(self, request: web.Request) -> web.Response:
        if request.headers.get("Origin") != f"{request.scheme}://{request.host}":
            return web.json_response({"error": "same origin only"}, status=403)
        data = await request.json()
        topic, text = data.get("topic"), data.get("text")
        if not isinstance(topic, int) or not isinstance(text, str) or not text.strip():
            return web.json_response({"error": "topic and text, please"}, status=400)
        await self._emu.user_send(self._operator, self._group, text=text[:4000],
                                  thread_id=topic)
        return web.json_response({"ok": True})


def _kind(message: dict[str, Any]) -> str:
    kinds = [k for k in ("photo", "document", "sticker", "voice") if k in message]
    return f"[{kinds[0]}]" if kinds else "[message]"

"""``MaxEmulator``: the server, the upload hosts, webhook pushes and the control API."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import ssl
import time
from typing import Any

import aiohttp
from aiohttp import web

from ..common.control import ControlRoutes
from ..common.inspection import RequestLogInspection
from ..common.lifecycle import ServedApp
from . import api
from .limits import Fault, FaultInjector, RateLimiter, Violation
from .people import PeopleApi, UserRef
from .server import MAX_BODY, ApiServer, RequestRecord
from .state import BotRecord, ControlError, Json, MaxError, Options, State, UserRecord


class MaxEmulator(PeopleApi, RequestLogInspection[RequestRecord, Violation], ServedApp):
    """A local MAX Bot API. See ``sandbox/max/__init__.py`` for the tour."""

    client_max_size = MAX_BODY
    _poll_method = "GET /updates"
    _report_title = "MAX API requests (successful long polls omitted)"
    _report_hint = "(none: is the client calling this emulator's base_url?)"

    def __init__(self) -> None:
        self.state = State()
        self.limiter = RateLimiter()
        self.faults = FaultInjector()
        self.server = ApiServer(self.state, self.limiter, self.faults)
        self.base_url = ""
        self.pushes: list[Json] = []  # webhook attempts: {update, status, attempt}
        self._pusher: asyncio.Task[None] | None = None
        self._fail_pushes = 0

    @property
    def options(self) -> Options:
        return self.state.options

    def _routes(self) -> list[list[web.RouteDef]]:
        s = self.server
        return [[
            s.route("GET", "/me", api.me),
            s.route("GET", "/updates", api.updates),
            s.route("POST", "/messages", api.send),
            s.route("PUT", "/messages", api.edit),
            s.route("DELETE", "/messages", api.delete),
            s.route("GET", "/messages/{mid}", api.get_message),
            s.route("POST", "/answers", api.answer),
            s.route("POST", "/uploads", api.uploads),
            s.route("POST", "/subscriptions", api.subscribe),
            s.route("GET", "/subscriptions", api.subscriptions),
            s.route("DELETE", "/subscriptions", api.unsubscribe),
            s.route("POST", "/chats/{chat_id}/actions", api.action),
            web.post("/upload/{slot}", self._upload),
            web.get("/files/{key}", self._file),
        ], ControlApi(self).routes()]

    async def start(self, host: str = "127.0.0.1", port: int = 0, *,
                    ssl_context: ssl.SSLContext | None = None) -> str:
        """Serve (over TLS with `ssl_context`, as MAX does with a certificate most systems
        do not trust)."""
        base_url = await super().start(host, port, ssl_context=ssl_context)
        self.state.base_url = base_url
        self._pusher = asyncio.create_task(self._push_loop(), name="max-webhook-pusher")
        return base_url

    async def stop(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        await super().stop()

    # ---- world setup --------------------------------------------------------------------
    def add_bot(self, name: str = "Support", token: str | None = None,
                username: str = "support_bot") -> BotRecord:
        token = token or secrets.token_urlsafe(48)
        user = UserRecord(next(self.state.user_ids), name, None, username, is_bot=True)
        self.state.users[user.user_id] = user
        bot = BotRecord(user, token)
        self.state.bots[token] = bot
        return bot

    def add_user(self, first_name: str = "Anna", last_name: str | None = None,
                 username: str | None = None) -> UserRecord:
        user = UserRecord(next(self.state.user_ids), first_name, last_name, username)
        self.state.users[user.user_id] = user
        return user

    # ---- limits and faults --------------------------------------------------------------
    def set_rate_limit(self, enabled: bool = True, count: int | None = None,
                       window: float | None = None) -> None:
        """``count`` requests per ``window`` seconds per token (default 30/1 s, on)."""
        self.limiter.configure(enabled, count, window)

    def inject_error(self, route: str, status: int, code: str, message: str = "",
                     times: int | None = 1, *, user_id: int | None = None) -> None:
        """The next ``times`` requests to ``route`` ("POST /messages", or "*") answer
        ``status`` with ``{code, message}``."""
        self.faults.add(Fault("error", route.lower(), times, user_id, status, code,
                              message or code))

    def drop_connection(self, route: str, times: int | None = 1, *, after: bool = False,
                        user_id: int | None = None) -> None:
        """Cut the connection instead of answering; ``after``: do the request first (the
        client never hears that it worked)."""
        self.faults.add(Fault("drop", route.lower(), times, user_id, after=after))

    def inject_delay(self, route: str, seconds: float, times: int | None = 1) -> None:
        self.faults.add(Fault("delay", route.lower(), times, seconds=seconds))

    def fail_pushes(self, times: int = 1) -> None:
        """The next ``times`` webhook pushes count as failed whatever the bot answers (its
        200 got lost on the way back): MAX pushes the same update again."""
        self._fail_pushes += times

    def reset_faults(self) -> None:
        self.faults.reset()

    # ---- reading ------------------------------------------------------------------------
    def messages(self, user: UserRef, *, include_deleted: bool = False) -> list[Json]:
        """The dialog with `user`, both sides, in order."""
        dialog = self.bot.dialogs.get(self._user(user).user_id)
        if dialog is None:
            return []
        return [self.state.messages[mid] for mid in dialog.messages
                if include_deleted or mid not in self.state.deleted]

    def sent_to(self, user: UserRef) -> list[Json]:
        """What the bot sent to `user`."""
        bot_id = self.bot.user.user_id
        return [m for m in self.messages(user) if m["sender"]["user_id"] == bot_id]

    def message(self, mid: str) -> Json:
        return self.state.messages[mid]

    def answers(self) -> list[Json]:
        return list(self.bot.answers)

    def file_bytes(self, url: str) -> bytes:
        return self.state.files[url.rsplit("/", 1)[-1]]

    def _report_line(self, record: RequestRecord) -> str:
        status = "ok" if record.ok else f"{record.status} {record.code or 'dropped'}"
        return f"  {record.method} {record.query} -> {status}"

    # ---- upload hosts and files ---------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.state.uploads.get(request.match_info["slot"])
        if upload is None or upload.data is not None:
            return web.json_response({"code": "not.found", "message": "Unknown upload"},
                                     status=404)
        form = await request.post()
        field = form.get("data")
        if not isinstance(field, web.FileField):
            return web.json_response({"code": "proto.payload",
                                      "message": "multipart field 'data' required"},
                                     status=400)
        upload.data, upload.filename = field.file.read(), field.filename
        upload.posted_at = time.monotonic()
        if upload.type == "image":
            return web.json_response({"photos": {secrets.token_hex(6): {
                "token": upload.token}}})
        if upload.type == "file":
            return web.json_response({"token": upload.token})
        return web.Response(text="<retval>1</retval>", content_type="application/xml")

    async def _file(self, request: web.Request) -> web.Response:
        data = self.state.files.get(request.match_info["key"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data)

    # ---- webhooks -----------------------------------------------------------------------
    async def _push_loop(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                pushed = False
                for bot in self.state.bots.values():
                    if bot.webhook is not None and bot.updates:
                        await self._push(session, bot)
                        pushed = True
                if not pushed:
                    await self.state.notifier.wait(0.2)

    async def _push(self, session: aiohttp.ClientSession, bot: BotRecord) -> None:
        """Push the oldest update until it is answered 200, with MAX's growing pauses."""
        hook = bot.webhook
        assert hook is not None
        marker, update = bot.updates[0]
        headers = {"X-Max-Bot-Api-Secret": hook.secret} if hook.secret else {}
        delays = self.options.webhook_retry_delays
        for attempt in range(len(delays) + 1):
            status = 0
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.post(hook.url, json=update, headers=headers,
                                        timeout=aiohttp.ClientTimeout(
                                            total=self.options.webhook_timeout)) as resp:
                    status = resp.status
            lost = self._fail_pushes > 0
            self._fail_pushes -= 1 if lost else 0
            self.pushes.append({"update": update, "status": status, "attempt": attempt,
                                "lost": lost})
            self.state.notifier.notify()
            if status == 200 and not lost:
                bot.updates[:] = [(m, u) for m, u in bot.updates if m != marker]
                return
            if attempt < len(delays):
                await asyncio.sleep(delays[attempt])
        # Every retry failed: MAX gives up on the subscription (after ~8 h for real); the
        # update stays for GET /updates.
        bot.webhook = None


class ControlApi(ControlRoutes):
    """``/_control/...`` for a client in another process (the demo)."""

    def __init__(self, emu: MaxEmulator) -> None:
        super().__init__(emu, ControlError)
        self.emu = emu
        self.actions = {
            "add_user": self._add_user,
            "user_send": self._user_send,
            "user_stops": self._sync(lambda b: emu.user_stops(int(b["user_id"]))),
            "user_starts": self._sync(lambda b: emu.user_starts(int(b["user_id"]),
                                                                b.get("payload"))),
        }

    @staticmethod
    def _sync(fn: Any) -> Any:
        async def run(body: dict[str, Any]) -> Any:
            fn(body)
            return True
        return run

    async def _add_user(self, body: dict[str, Any]) -> Any:
        user = self.emu.add_user(body.get("first_name", "Anna"), body.get("last_name"),
                                 body.get("username"))
        return user.to_api()

    async def _user_send(self, body: dict[str, Any]) -> Any:
        attachments = [
            {**a, "data": base64.b64decode(a.pop("data_base64"))}
            if isinstance(a, dict) and "data_base64" in a else a
            for a in body.get("attachments") or []]
        return self.emu.user_send(int(body["user_id"]), body.get("text", ""), attachments,
                                  body.get("reply_to"))

    def routes(self) -> list[web.RouteDef]:
        emu = self.emu
        return [
            web.get("/_control/messages",
                    self._get(lambda q: emu.messages(int(q["user_id"])))),
            web.get("/_control/requests", self._get(self._requests)),
            web.get("/_control/violations",
                    self._get(lambda q: [v.__dict__ for v in emu.violations])),
            web.post("/_control/{action}", self._post),
        ]


__all__ = ["MaxEmulator", "MaxError"]

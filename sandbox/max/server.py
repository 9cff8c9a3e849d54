"""The HTTP face of the MAX Bot API: auth, the rate limit, faults, the request log, routing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..common.server import LoggingApiServer, abort
from .limits import FaultInjector, RateLimiter
from .state import BotRecord, Json, MaxError, State

MAX_BODY = 60 * 1024 * 1024
Handler = Callable[["Call"], Awaitable[Any]]


@dataclass
class RequestRecord:
    """One request as the emulator saw and answered it (``method`` is "GET /updates")."""

    method: str
    query: dict[str, str]
    body: Any
    user_id: int | None
    time: float
    status: int
    code: str | None
    response: Any = None
    dropped: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.dropped

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["ok"] = self.ok
        return data


@dataclass
class Call:
    state: State
    bot: BotRecord
    request: web.Request
    query: dict[str, str]
    body: Any


def target_user(query: dict[str, str]) -> int | None:
    raw = query.get("user_id")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


class ApiServer(LoggingApiServer[RequestRecord]):
    state: State
    limiter: RateLimiter
    faults: FaultInjector

    def __init__(self, state: State, limiter: RateLimiter, faults: FaultInjector) -> None:
        super().__init__(state, limiter, faults)
        self.handlers: dict[str, Handler] = {}

    def route(self, method: str, path: str, handler: Handler) -> web.RouteDef:
        name = f"{method} {path}"
        self.handlers[name] = handler

        async def serve(request: web.Request) -> web.StreamResponse:
            return await self.handle(name, request)

        return web.route(method, path, serve)

    async def handle(self, name: str, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        query = dict(request.query)
        body: Any = None
        status, answer, dropped = 200, None, False
        user = target_user(query)
        key = name.lower()
        try:
            if request.body_exists and request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise MaxError(400, "proto.payload", "Invalid JSON") from None
            # Only the raw header counts: no "Bearer", and ?access_token= is ignored.
            bot = self.state.bots.get(request.headers.get("Authorization", ""))
            if bot is None:
                raise MaxError(401, "verify.token", "Invalid access_token")
            self.limiter.acquire(bot.token, name)
            delay = self.faults.take("delay", key, user)
            if delay is not None:
                await asyncio.sleep(delay.seconds)
            if self.faults.take("drop", key, user):
                dropped = True
            else:
                error = self.faults.take("error", key, user)
                if error is not None:
                    raise MaxError(error.status, error.code, error.message)
                answer = await self.handlers[name](Call(self.state, bot, request, query, body))
                dropped = self.faults.take("drop", key, user, after=True) is not None
        except MaxError as error:
            status, answer = error.status, error.body()
        self.log(RequestRecord(name, query, body, user, started, status,
                               (answer or {}).get("code") if status != 200 else None, answer,
                               dropped, time.monotonic() - started))
        if dropped:
            return abort(request)
        if isinstance(answer, web.StreamResponse):
            return answer
        return web.json_response(answer, status=status, dumps=dumps)


def dumps(value: Json) -> str:
    return json.dumps(value, ensure_ascii=False)

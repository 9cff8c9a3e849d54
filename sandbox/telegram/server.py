"""The HTTP face of the Bot API: routing, body decoding, faults, logging, answers."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..common.server import LoggingApiServer, abort
from .errors import NOT_FOUND, UNAUTHORIZED, ApiError, bad_request
from .limits import FaultInjector, RateLimiter
from .methods import REGISTRY, Call, canonical_name
from .params import Params, Upload, decode_form_value
from .state import State

MAX_BODY = 60 * 1024 * 1024  # above the 50 MB upload limit, so that limit answers first


@dataclass
class RequestRecord:
    """One Bot API call as the emulator saw and answered it."""

    method: str  # canonical spelling ("sendMessage"), or as sent for unknown methods
    params: dict[str, Any]
    chat_id: int | str | None
    time: float  # time.monotonic() when the request arrived
    status: int
    error_code: int | None
    description: str | None
    bot_id: int | None
    duration: float = 0.0
    dropped: bool = False  # the connection was cut instead of answering

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.dropped

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["ok"] = self.ok
        return data


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = {k: decode_form_value(k, v) for k, v in request.query.items()}
    uploads: dict[str, Upload] = {}
    if request.method == "POST" and request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise bad_request("request body must be a JSON object")
            values.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    uploads[key] = Upload(value.filename or key, data, value.content_type)
                else:
                    values[key] = decode_form_value(key, str(value))
    return Params(values, uploads)


def _log_chat_id(params: Params) -> int | str | None:
    raw = params.values.get("chat_id")
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return str(raw)


class BotApiServer(LoggingApiServer[RequestRecord]):
    state: State
    limiter: RateLimiter
    faults: FaultInjector

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/bot{token}/{method}", self.handle_api),
            web.get("/file/bot{token}/{file_path:.+}", self.handle_file),
        ]

    async def handle_api(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        raw_method = request.match_info["method"]
        method = canonical_name(raw_method)
        bot = self.state.bots_by_token.get(request.match_info["token"])
        params = Params({})
        body: dict[str, Any]
        dropped = False
        try:
            params = await read_params(request)
            chat_id = _log_chat_id(params)
            if bot is None:
                raise UNAUTHORIZED
            entry = REGISTRY.get(raw_method.lower())
            if entry is None:
                raise NOT_FOUND
            fault_chat = chat_id if isinstance(chat_id, int) else None
            delay = self.faults.take("delay", method, fault_chat)
            if delay is not None:
                await asyncio.sleep(delay.seconds)
            if self.faults.take("drop", method, fault_chat):
                dropped = True
            else:
                error = self.faults.take("error", method, fault_chat)
                if error is not None:
                    raise error.error()
                call = Call(self.state, self.limiter, bot, params, method)
                result = await entry[1](call)
                body = {"ok": True, "result": result}
                # "after" drops lose the answer of a call that did take effect.
                dropped = self.faults.take("drop", method, fault_chat, after=True) is not None
        except ApiError as error:
            body = error.payload()
        if dropped:
            body, status = {}, 0
        else:
            status = 200 if body["ok"] else int(body["error_code"])
        self._log(method, params, bot.id if bot else None, started, body, status, dropped)
        if dropped:
            return abort(request)
        return web.Response(
            text=json.dumps(body, ensure_ascii=False),
            status=status,
            content_type="application/json",
        )

    def _log(
        self,
        method: str,
        params: Params,
        bot_id: int | None,
        started: float,
        body: dict[str, Any],
        status: int,
        dropped: bool,
    ) -> None:
        self.log(
            RequestRecord(
                method=method,
                params=params.for_log(),
                chat_id=_log_chat_id(params),
                time=started,
                status=status,
                error_code=body.get("error_code"),
                description=body.get("description"),
                bot_id=bot_id,
                duration=time.monotonic() - started,
                dropped=dropped,
            )
        )

    async def handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] not in self.state.bots_by_token:
            return _error_response(UNAUTHORIZED)
        record = self.state.files_by_path.get(request.match_info["file_path"])
        if record is None:
            return _error_response(NOT_FOUND)
        return web.Response(
            body=record.data, content_type=record.mime_type or "application/octet-stream"
        )


def _error_response(error: ApiError) -> web.Response:
    return web.Response(
        text=json.dumps(error.payload()), status=error.error_code, content_type="application/json"
    )

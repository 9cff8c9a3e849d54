"""The HTTP face of the VK API: ``/method/{name}`` routing, params, faults, logging."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..common.server import LoggingApiServer, abort
from . import (  # noqa: F401 - importing registers them
    api_history,
    api_messages,
    api_misc,
    callback,
)
from .errors import VkApiError
from .limits import FaultInjector, RateLimiter
from .registry import REGISTRY, Call
from .state import State

MAX_BODY = 60 * 1024 * 1024


@dataclass
class RequestRecord:
    """One call as the emulator saw and answered it (``method == "longpoll"`` for a_check)."""

    method: str  # canonical spelling ("messages.send"), or as sent for unknown methods
    params: dict[str, str]  # without access_token
    group_id: int | None  # the community whose token was used (or whose long poll)
    peer_id: int | None
    time: float  # time.monotonic() when the request arrived
    error_code: int | None
    error_msg: str | None
    response: Any = None  # "response" of a successful call (long poll: the whole answer)
    duration: float = 0.0
    dropped: bool = False  # the connection was cut instead of answering

    @property
    def ok(self) -> bool:
        return self.error_code is None and not self.dropped

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["ok"] = self.ok
        return data


async def read_params(request: web.Request) -> dict[str, str]:
    """Query string plus url-encoded or multipart form body, all strings (VK takes no JSON)."""
    params = {k: v for k, v in request.query.items()}
    if (
        request.method == "POST"
        and request.body_exists
        and request.content_type
        in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        )
    ):
        form = await request.post()
        for key, value in form.items():
            if not isinstance(value, web.FileField):
                params[key] = str(value)
    return params


def peer_of(params: dict[str, str]) -> int | None:
    raw = params.get("peer_id") or params.get("user_id")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


class ApiServer(LoggingApiServer[RequestRecord]):
    state: State
    limiter: RateLimiter
    faults: FaultInjector

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/method/{method}", self.handle_method)]

    async def handle_method(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        name = request.match_info["method"]
        entry = REGISTRY.get(name.lower())
        method = entry[0] if entry else name
        params: dict[str, str] = {}
        body: dict[str, Any]
        community = None
        dropped = False
        try:
            params = await read_params(request)
            community = self.state.by_token.get(params.get("access_token", ""))
            if community is None:
                raise VkApiError(5)
            if not params.get("v"):
                raise VkApiError(8)
            self.limiter.acquire(community.id, method)
            if entry is None:
                raise VkApiError(3)
            peer = peer_of(params)
            delay = self.faults.take("delay", method, peer)
            if delay is not None:
                await asyncio.sleep(delay.seconds)
            if self.faults.take("drop", method, peer):
                dropped = True
                body = {}
            else:
                error = self.faults.take("error", method, peer)
                if error is not None:
                    raise VkApiError(error.error_code, error.error_msg)
                result = await entry[1](Call(self.state, community, params, method))
                body = {"response": result}
                # "after" drops lose the answer of a call that did take effect.
                dropped = self.faults.take("drop", method, peer, after=True) is not None
        except VkApiError as error:
            body = error.payload(name, params)
        self.log(
            RequestRecord(
                method=method,
                params={k: v for k, v in params.items() if k != "access_token"},
                group_id=community.id if community else None,
                peer_id=peer_of(params),
                time=started,
                error_code=body["error"]["error_code"] if "error" in body else None,
                error_msg=body["error"]["error_msg"] if "error" in body else None,
                response=body.get("response"),
                duration=time.monotonic() - started,
                dropped=dropped,
            )
        )
        if dropped:
            return abort(request)
        return web.json_response(body, dumps=dumps)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)

"""The Bots Long Poll server: ``GET {server}?act=a_check&key=…&ts=…&wait=25``.

Events live in a per-community history numbered by ``ts``; a request with ``ts=T`` gets every
kept event numbered T or later, and the answer's ``ts`` is the number to ask with next. Nothing
is ever consumed, so a client resuming from its last ``ts`` loses nothing (at-least-once).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from ..common.server import abort
from .limits import FaultInjector
from .server import ApiServer, RequestRecord, dumps, read_params
from .state import Community, Json, State

LP_METHOD = "longpoll"  # the pseudo-method name faults and the request log use
HANG_LIMIT = 600.0


class LongPollServer:
    def __init__(self, state: State, faults: FaultInjector, api: ApiServer) -> None:
        self.state = state
        self.faults = faults
        self.api = api  # shares its request log

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/lp/{group_id}", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        params = await read_params(request)
        try:
            community = self.state.communities.get(int(request.match_info["group_id"]))
        except ValueError:
            community = None
        if community is None:
            return web.Response(status=404, text="not found")
        answer: Json | None = None
        status = 200
        fault = self.faults.take_any(("failed", "hang", "status", "drop", "delay"), LP_METHOD)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            fault = None
        elif fault is not None and fault.seconds:
            # answer the fault only after a while: events that arrive meanwhile are skipped
            # by a failed 1 (its ts is taken when answering), as when VK's history moves on
            await asyncio.sleep(fault.seconds)
        if fault is None:
            answer = await self._check(community, params)
        elif fault.kind == "failed":
            answer = {"failed": fault.error_code}
            if fault.error_code == 1:
                answer["ts"] = community.longpoll.next_ts
        elif fault.kind == "hang":
            await self._hang()
        elif fault.kind == "status":
            status = fault.error_code
        self.api.log(
            RequestRecord(
                method=LP_METHOD,
                params=params,
                group_id=community.id,
                peer_id=None,
                time=started,
                error_code=None if status == 200 and answer is not None else status,
                error_msg=None if fault is None else f"injected {fault.kind}",
                response=answer,
                duration=time.monotonic() - started,
                dropped=answer is None and status == 200,
            )
        )
        if status != 200:
            return web.Response(
                status=status, text=f"<html>{status}</html>", content_type="text/html"
            )
        if answer is None:
            return abort(request)
        return web.json_response(answer, dumps=dumps)

    async def _hang(self) -> None:
        """Never answer (until the emulator stops); the connection is then cut."""
        deadline = time.monotonic() + HANG_LIMIT
        while not self.state.closing and time.monotonic() < deadline:
            await self.state.notifier.wait(1.0)

    async def _check(self, community: Community, params: dict[str, str]) -> Json | None:
        if params.get("act") != "a_check":
            return {"failed": 2}  # unverified: what VK answers a bad ``act``
        lp = community.longpoll
        status = lp.keys.get(params.get("key", ""))
        if status != "ok":
            return {"failed": 3 if status == "lost" else 2}
        try:
            ts = int(params.get("ts", ""))
        except ValueError:
            return {"failed": 1, "ts": lp.next_ts}
        if ts < lp.oldest_ts() or ts > lp.next_ts:
            return {"failed": 1, "ts": lp.next_ts}
        options = self.state.options
        try:
            wait = float(params.get("wait", options.longpoll_default_wait))
        except ValueError:
            wait = options.longpoll_default_wait
        wait = max(0.0, min(wait, options.longpoll_max_wait))
        deadline = time.monotonic() + wait
        while True:
            if lp.keys.get(params.get("key", "")) != "ok":
                return {"failed": 2 if lp.keys.get(params["key"]) == "expired" else 3}
            if ts < lp.oldest_ts():
                return {"failed": 1, "ts": lp.next_ts}
            updates: list[Any] = [event for number, event in lp.history if number >= ts]
            remaining = deadline - time.monotonic()
            if updates or remaining <= 0 or self.state.closing:
                return {"ts": str(lp.next_ts if updates else ts), "updates": updates}
            await self.state.notifier.wait(remaining)

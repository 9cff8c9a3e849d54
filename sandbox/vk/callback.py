"""The Callback API: VK POSTs every event of a community to a server registered for it.

A server is registered (in VK: Manage → API usage → Callback API) with a URL and an optional
secret key. VK first POSTs ``{"type": "confirmation", "group_id": …}`` and wants the
community's confirmation string as the plain answer; only a confirmed server gets events.
Each event is POSTed as the long poll would carry it, plus ``secret``; anything but HTTP 200
with the body ``ok`` is a failure, and the same event (same ``event_id``) is sent again after
a pause with ``X-Retry-Counter: <n>`` until the retries run out, then dropped (VK gives up).
Events of a community go one at a time, in order.

Also ``groups.getCallbackConfirmationCode`` and ``groups.getCallbackServers``.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from .errors import ControlError, VkApiError
from .registry import Call, method
from .state import CallbackServer, Community, Json, State

RETRY_HEADER = "X-Retry-Counter"


class CallbackPusher:
    """Sends the pending events of every community with a confirmed server."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.lose_answers = 0  # the next this many answers count as failed (lost on the way)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="vk-callback-pusher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def register(self, community: Community, url: str,
                       secret: str | None = None) -> CallbackServer:
        """Register `url` and confirm it (the admin's "Confirm" button): raises
        ControlError when the server does not answer the confirmation string."""
        server = CallbackServer(url=url, secret=secret or None)
        if community.callback is not None:  # events not answered yet go to the new address
            server.pending = community.callback.pending
        community.callback = server
        status, answer = await self._post(
            url, {"type": "confirmation", "group_id": community.id}, {})
        if status != 200 or answer != community.confirmation_code:
            raise ControlError(f"{url} answered {status} {answer[:80]!r}, not the "
                               "confirmation string: the server is not confirmed")
        server.confirmed = True
        return server

    async def _run(self) -> None:
        while True:
            busy = [c for c in self.state.communities.values()
                    if c.callback is not None and c.callback.confirmed and c.callback.pending]
            for community in busy:
                assert community.callback is not None
                await self._deliver(community, community.callback)
            if not busy:
                await self.state.notifier.wait(0.2)

    async def _deliver(self, community: Community, server: CallbackServer) -> None:
        event = server.pending[0]
        body = dict(event, secret=server.secret) if server.secret else dict(event)
        delays = self.state.options.callback_retry_delays
        for attempt in range(len(delays) + 1):
            headers = {RETRY_HEADER: str(attempt)} if attempt else {}
            status, answer = await self._post(server.url, body, headers)
            lost = self.lose_answers > 0
            self.lose_answers -= 1 if lost else 0
            server.attempts.append({"event_id": event["event_id"], "type": event["type"],
                                    "attempt": attempt, "status": status, "answer": answer,
                                    "lost": lost})
            self.state.notifier.notify()
            if community.callback is not server:
                return  # the server was replaced meanwhile
            if status == 200 and answer == "ok" and not lost:
                server.pending.popleft()
                return
            if attempt < len(delays):
                await asyncio.sleep(delays[attempt])
        server.pending.popleft()
        server.given_up.append(event)
        self.state.notifier.notify()

    async def _post(self, url: str, body: Json, headers: dict[str, str]) -> tuple[int, str]:
        """(HTTP status, body text); status 0 when the server can't be reached in time."""
        assert self._session is not None, "the emulator is not started"
        timeout = aiohttp.ClientTimeout(total=self.state.options.callback_timeout)
        try:
            async with self._session.post(url, json=body, headers=headers,
                                          timeout=timeout) as resp:
                return resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, type(exc).__name__


def _own_group(call: Call) -> Community:
    if call.int("group_id", required=True) != call.community.id:
        raise VkApiError(15, "Access denied: no access to call this method")
    return call.community


@method("groups.getCallbackConfirmationCode")
async def get_callback_confirmation_code(call: Call) -> Json:
    return {"code": _own_group(call).confirmation_code}


@method("groups.getCallbackServers")
async def get_callback_servers(call: Call) -> Json:
    server = _own_group(call).callback
    if server is None:
        return {"count": 0, "items": []}
    return {"count": 1, "items": [{
        "id": 1, "title": "relaydesk", "creator_id": call.community.admin_id,
        "url": server.url, "secret_key": server.secret or "",
        "status": "ok" if server.confirmed else "failed"}]}

"""Callback mode (`vk.mode: callback`): VK POSTs each event of the community to a path of
relaydesk's HTTP server (VK's Callback API), instead of relaydesk asking by long poll.

- `{"type": "confirmation", "group_id": <ours>}` is answered with the confirmation string,
  as plain text: that is how VK checks the server when an admin registers it.
- Every other event must carry the secret key and our group id, else it is refused (403)
  before anything is read into intake.
- The answer `ok` means "committed": it is given only after intake has stored the event. Any
  other answer (500 when storing failed, 503 when it took too long) makes VK send the event
  again, with the same `event_id` and an `X-Retry-Counter` header.
- A retry of an event this process has committed (the same `event_id`, or for a message the
  same message id) is answered `ok` at once; one committed by another process, or before a
  restart, is recognised by intake (messages are unique by their VK id). Event types
  relaydesk does not handle are answered `ok` (VK would only send them again).
- VK gives up on an event after a few retries: `CatchUp` reads back from the mailbox, at
  start, what came while relaydesk was away.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .customer import VkIntake, peer_of

logger = logging.getLogger(__name__)

Event = dict[str, Any]
Handler = Callable[[list[Event]], Awaitable[None]]
RETRY_HEADER = "X-Retry-Counter"
HANDLED = frozenset({"message_new", "message_reply", "message_edit", "message_event",
                     "message_allow", "message_deny"})
OK = "ok"


class VkCallback:
    """The Callback API route: an HTTP part (see bots/http.py) whose `mount` adds the POST."""

    name = "vk-callback"

    def __init__(self, path: str, group_id: int, secret: str, confirmation: str,
                 handler: Handler, *, deadline: float = 20.0, remember: int = 10_000) -> None:
        self.path = "/" + path.lstrip("/")
        self.group_id = group_id
        self._secret = secret.encode()
        self._confirmation = confirmation
        self._handler = handler
        # VK waits a limited time for the answer (unverified how long): past this, answer
        # "try again" ourselves; the unit of work was rolled back, VK sends it again.
        self.deadline = deadline
        # Keys of events committed here, newest last (a bounded memory of what VK retries).
        self._committed: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        # One peer's events are handled one after another in this process, in arrival order.
        self._peer_locks: defaultdict[int | str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._waiting: defaultdict[int | str, int] = defaultdict(int)
        self.received = 0  # events committed
        self.repeats = 0  # retries answered `ok` without handling
        self.refused = 0  # wrong secret or group
        self.failed = 0  # answered "try again"
        self.confirmations = 0

    def mount(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        try:
            event = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _text("not JSON", 400)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return _text("not a Callback API event", 400)
        refusal = self._refusal(event)
        if refusal is not None:
            self.refused += 1
            logger.warning("VK callback: %s (%s from %s)", refusal, event["type"],
                           request.remote)
            return _text(refusal, 403)
        if event["type"] == "confirmation":
            self.confirmations += 1
            logger.info("VK callback: answering VK's confirmation request")
            return _text(self._confirmation)
        if event["type"] not in HANDLED:
            return _text(OK)
        return await self._receive_event(event, request.headers.get(RETRY_HEADER))

    def _refusal(self, event: Event) -> str | None:
        """Why the event is refused: a confirmation needs only our group; every other event
        also the secret (a confirmation that carries a secret must carry the right one)."""
        given = event.get("secret")
        needs_secret = event["type"] != "confirmation" or given is not None
        if needs_secret and not (isinstance(given, str)
                                 and hmac.compare_digest(given.encode(), self._secret)):
            return "bad secret"
        if event.get("group_id") != self.group_id:
            return "unknown group"
        return None

    async def _receive_event(self, event: Event, retry: str | None) -> web.Response:
        if retry:
            logger.debug("VK callback: %s %s sent again (X-Retry-Counter %s)", event["type"],
                         event.get("event_id"), retry)
        keys = _keys(event)
        if self._seen(keys):
            self.repeats += 1
            return _text(OK)
        peer = peer_of(event)
        self._waiting[peer] += 1
        try:
            async with self._peer_locks[peer]:
                if self._seen(keys):  # a retry that waited for the first attempt to finish
                    self.repeats += 1
                    return _text(OK)
                failure = await self._store(event, retry)
                if failure is not None:
                    self.failed += 1
                    return _text("try again", failure)
        finally:
            self._waiting[peer] -= 1
            if not self._waiting[peer]:  # nobody else holds or waits for this peer's lock
                del self._waiting[peer], self._peer_locks[peer]
        self._remember_committed(keys)
        self.received += 1
        return _text(OK)

    async def _store(self, event: Event, retry: str | None) -> int | None:
        """None once intake committed the event, else the HTTP status that asks VK for it
        again (500: storing failed, 503: it took too long)."""
        try:
            async with asyncio.timeout(self.deadline):
                await self._handler([event])
        except TimeoutError:
            logger.warning("VK callback: storing %s %s took over %.0fs; VK will send it again",
                           event["type"], event.get("event_id"), self.deadline)
            return 503
        except Exception:
            logger.exception("VK callback: storing %s %s failed (retry %s); VK will send it "
                             "again", event["type"], event.get("event_id"), retry or 0)
            return 500
        return None

    def _seen(self, keys: list[str]) -> bool:
        return any(key in self._committed for key in keys)

    def _remember_committed(self, keys: list[str]) -> None:
        for key in keys:
            self._committed[key] = None
            self._committed.move_to_end(key)
        while len(self._committed) > self._remember:
            self._committed.popitem(last=False)


def _keys(event: Event) -> list[str]:
    """What makes a retry recognisable: VK's event_id; for a new message or a community's
    message also its id (unique in the community's mailbox)."""
    keys = [f"event:{event['event_id']}"] if event.get("event_id") else []
    obj = event.get("object") or {}
    message = obj.get("message") if event["type"] == "message_new" else obj
    if event["type"] in ("message_new", "message_reply") and isinstance(message, dict) \
            and message.get("id"):
        keys.append(f"message:{event['type']}:{message['id']}")
    return keys


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain")


class CatchUp:
    """Callback mode's safety net: VK gives up on an event after a few retries, so a
    relaydesk away for longer would never see it. The newest handled message id is saved
    every few seconds (and at stop); at start the mailbox is read back from the saved one,
    as the long poll does after a gap (intake drops what it already has)."""

    def __init__(self, intake: VkIntake, save: Callable[[int], Awaitable[None]],
                 every: float = 2.0) -> None:
        self._intake = intake
        self._save = save
        self.every = every
        self.recovered = 0

    async def run(self) -> None:
        await self.recover()
        saved = self._intake.last_message_id
        try:
            while True:
                await asyncio.sleep(self.every)
                saved = await self._save_if_moved(saved)
        finally:  # stopping: keep what was handled up to now
            with contextlib.suppress(Exception):
                await self._save_if_moved(saved)

    async def recover(self) -> None:
        if self._intake.last_message_id is None:
            return  # the first run: nothing handled before, nothing to catch up on
        try:
            events = await self._intake.missed_events()
            if events:
                await self._intake.handle(events)
        except Exception:
            logger.exception("VK callback: reading back the messages missed while away "
                             "failed; those VK gave up on are not in the desk")
            return
        self.recovered += len(events)
        if events:
            logger.info("VK callback: %d messages read back from the mailbox", len(events))

    async def _save_if_moved(self, saved: int | None) -> int | None:
        newest = self._intake.last_message_id
        if newest is not None and newest != saved:
            await self._save(newest)
            return newest
        return saved

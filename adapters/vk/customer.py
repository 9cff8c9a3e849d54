"""The VK community channel, incoming: Bots Long Poll events → intake calls.

A batch is handled before the long poll asks with its `ts` (which acknowledges it), and the
acknowledged `ts` is kept in the database, so neither a failing handler nor a crash loses an
event; a re-delivered one is deduplicated by intake. Events of one conversation are handled in
order, conversations concurrently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from core.intake.service import IntakeService
from core.model import (
    InboundChannelAnswer,
    InboundCustomerMessage,
    InboundEdit,
    InboundPress,
    Profile,
)
from core.presses import Presses

from .buttons import press_payload
from .convert import PLATFORM, content_of, edited_at, profile_of, reply_id, sent_at
from .errors import VkApiError, VkNetworkError
from .transport import VkApi

logger = logging.getLogger(__name__)

Event = dict[str, Any]
CHANNEL = "vk"
GROUP_CHATS_FROM = 2_000_000_000  # peer ids of group chats; relaydesk serves private chats
POISON_LIMIT = 5  # an event failing this many times is logged in full and skipped


class VkProfiles:
    """Names from `users.get`, cached: one call per batch for the people not known yet."""

    def __init__(self, api: VkApi, ttl: float = 3600.0) -> None:
        self._api = api
        self._ttl = ttl
        self._cache: dict[int, tuple[float, dict[str, Any]]] = {}

    async def load(self, user_ids: set[int]) -> None:
        now = time.monotonic()
        missing = sorted(u for u in user_ids
                         if u > 0 and (u not in self._cache or self._cache[u][0] < now))
        if not missing:
            return
        try:
            users = await self._api.call("users.get", user_ids=missing,
                                         fields="screen_name")
        except (VkApiError, VkNetworkError) as exc:
            # Names are nice, not essential: the message must not wait for them.
            logger.warning("VK users.get for %s failed: %s", missing, exc)
            return
        for user in users or []:
            self._cache[int(user["id"])] = (now + self._ttl, user)

    def get(self, user_id: int) -> dict[str, Any] | None:
        cached = self._cache.get(user_id)
        return cached[1] if cached else None

    def profile(self, user_id: int, lang_id: int | None = None) -> Profile:
        return profile_of(self.get(user_id), user_id, lang_id)

    def name(self, user_id: int) -> str:
        user = self.get(user_id)
        if user is None:
            return f"id{user_id}"
        return " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)


class VkIntake:
    """The long-poll handler of one community."""

    def __init__(self, group_id: int, intake: IntakeService, profiles: VkProfiles,
                 api: VkApi, last_message_id: int | None = None,
                 ours: Callable[[int], bool] = lambda random_id: False,
                 presses: Presses | None = None,
                 poison_limit: int | None = POISON_LIMIT) -> None:
        self._group_id = group_id
        # None: never skip a failing event (in callback mode VK's own retries are the limit,
        # and skipping one that failed because the database was away would lose it).
        self._poison_limit = poison_limit
        self._ours = ours
        self._intake = intake
        self._presses = presses or Presses()
        self._profiles = profiles
        self._api = api
        self._failures: dict[str, int] = {}
        self.handled = 0
        # The newest mailbox message handled: after a long-poll gap, everything newer is
        # read back from the mailbox (see `missed_events`).
        self.last_message_id = last_message_id
        self.recovered = 0

    async def missed_events(self) -> list[Event]:
        """Messages newer than `last_message_id`, read from the mailbox as the events VK
        would have sent (message_new / message_reply); intake drops the ones it has."""
        after = self.last_message_id
        if after is None:
            logger.warning("VK group %s: no handled message known; lost events can't be "
                           "recovered", self._group_id)
            return []
        peers: list[int] = []
        offset = 0
        while True:
            page = await self._api.call("messages.getConversations", offset=offset,
                                        count=200)
            items = page.get("items") or []
            fresh = [i for i in items if int((i.get("last_message") or {}).get("id", 0)) > after]
            peers += [int(i["conversation"]["peer"]["id"]) for i in fresh]
            if len(fresh) < len(items) or len(items) < 200:
                break
            offset += 200
        messages: list[Event] = []
        for peer in peers:
            history = await self._api.call("messages.getHistory", peer_id=peer, count=200)
            messages += [m for m in history.get("items") or [] if int(m["id"]) > after]
        messages.sort(key=lambda m: int(m["id"]))
        self.recovered += len(messages)
        return [
            {"type": "message_reply", "object": m, "event_id": f"recovered:{m['id']}"}
            if m.get("out") else
            {"type": "message_new", "object": {"message": m, "client_info": {}},
             "event_id": f"recovered:{m['id']}"}
            for m in messages
        ]

    async def handle(self, events: list[Event]) -> None:
        """Handle a batch; raises (so the same batch comes again) if any event failed."""
        people = {_sender(e) for e in events} | {_admin(e) for e in events}
        await self._profiles.load({p for p in people if p})
        by_peer: dict[int | str, list[Event]] = defaultdict(list)
        for event in events:
            by_peer[peer_of(event)].append(event)
        results = await asyncio.gather(*(self._handle_peer(e) for e in by_peer.values()))
        if not all(results):
            raise RuntimeError("some VK events failed; the batch is asked for again")
        ids = [int(_message(e).get("id") or 0) for e in events
               if e.get("type") in ("message_new", "message_reply")]
        if ids and max(ids) > (self.last_message_id or 0):
            self.last_message_id = max(ids)

    async def _handle_peer(self, events: list[Event]) -> bool:
        for event in events:
            key = str(event.get("event_id") or id(event))
            try:
                await self._event(event)
                self.handled += 1
                self._failures.pop(key, None)
            except Exception:
                count = self._failures.get(key, 0) + 1
                self._failures[key] = count
                if self._poison_limit is not None and count >= self._poison_limit:
                    logger.exception("VK event failed %d times; skipping it: %s", count, event)
                    self._failures.pop(key, None)
                    continue
                logger.exception("VK event %s failed (attempt %d)", key, count)
                return False  # keep this conversation's order: the rest waits
        return True

    async def _event(self, event: Event) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "message_new":
            await self._message_new(obj.get("message") or {}, obj.get("client_info") or {})
        elif kind == "message_reply":
            await self._message_reply(obj)
        elif kind == "message_edit":
            await self._message_edit(obj)
        elif kind == "message_event":
            await self._button_event(obj)
        elif kind in ("message_allow", "message_deny"):
            await self._intake.set_reachable(CHANNEL, str(obj.get("user_id")),
                                             kind == "message_allow")

    async def _message_new(self, message: Event, client: Event) -> None:
        from_id, peer_id = int(message.get("from_id", 0)), int(message.get("peer_id", 0))
        if from_id <= 0 or peer_id >= GROUP_CHATS_FROM:
            return  # other communities, group chats: not customers of this desk
        pressed = press_payload(message.get("payload"))
        if pressed is not None:
            # A text button (a client without callback buttons sends its label as a
            # message, with the payload): a press, not a question.
            await self._presses.press(InboundPress(CHANNEL, str(from_id), str(peer_id),
                                                   pressed, str(message.get("id"))))
            return
        if _is_start(message):
            # The "Start" button of a new conversation is not a question: greet, and make a
            # topic only for a real message.
            await self._intake.greet(CHANNEL, str(peer_id))
            return
        lang = client.get("lang_id")
        await self._intake.relay_customer_to_desk(InboundCustomerMessage(
            channel=CHANNEL, user_id=str(from_id), chat_id=str(peer_id),
            message_id=str(message["id"]),
            profile=self._profiles.profile(from_id, lang if isinstance(lang, int) else None),
            content=content_of(message), sent_at=sent_at(message),
            reply_to_message_id=reply_id(message),
        ))

    async def _button_event(self, event: Event) -> None:
        """A callback button pressed (`message_event`): the press, then its answer, which
        VK wants within a minute (an event answered late or twice is only logged)."""
        user_id, peer_id = int(event.get("user_id") or 0), int(event.get("peer_id") or 0)
        pressed = press_payload(event.get("payload"))
        answer = ""
        if pressed is not None and 0 < peer_id < GROUP_CHATS_FROM:
            answer = await self._presses.press(InboundPress(
                CHANNEL, str(user_id), str(peer_id), pressed,
                str(event.get("conversation_message_id") or "") or None))
        data = json.dumps({"type": "show_snackbar", "text": answer[:90]}) if answer else None
        try:
            await self._api.call("messages.sendMessageEventAnswer",
                                 event_id=event.get("event_id"), user_id=user_id,
                                 peer_id=peer_id, event_data=data)
        except (VkApiError, VkNetworkError) as exc:
            logger.info("VK button event %s not answered: %s", event.get("event_id"), exc)

    async def _message_reply(self, message: Event) -> None:
        # message_reply also reports every message this bot sent. Ours are known by their
        # random_id (remembered before the send, since the event may come before VK's answer
        # does; after a restart intake finds their links). Another program's API sends carry
        # a random_id and no admin: not a person either. Everything else was typed by
        # someone in VK itself (the web inbox names the admin in admin_author_id).
        admin = message.get("admin_author_id")
        random_id = int(message.get("random_id") or 0)
        if self._ours(random_id) or (not admin and random_id != 0):
            return
        peer_id = int(message.get("peer_id") or 0)
        if peer_id <= 0 or peer_id >= GROUP_CHATS_FROM:
            return
        await self._intake.relay_channel_answer_to_desk(InboundChannelAnswer(
            channel=CHANNEL, chat_id=str(peer_id), message_id=str(message["id"]),
            operator_id=f"vk:{admin or 'admin'}",
            operator_name=self._profiles.name(int(admin)) if admin else "Community admin",
            content=content_of(message), sent_at=sent_at(message),
            reply_to_message_id=reply_id(message),
        ))

    async def _message_edit(self, message: Event) -> None:
        await self._intake.apply_edit(InboundEdit(
            platform=PLATFORM, chat_id=str(message.get("peer_id")),
            message_id=str(message.get("id")), content=content_of(message),
            edited_at=edited_at(message),
        ))


def _is_start(message: Event) -> bool:
    payload = message.get("payload")
    if not payload or message.get("attachments") or message.get("fwd_messages"):
        return False
    try:
        data = json.loads(payload) if isinstance(payload, str) else payload
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("command") == "start"


def _message(event: Event) -> Event:
    obj = event.get("object") or {}
    return obj.get("message") or obj if event.get("type") == "message_new" else obj


def peer_of(event: Event) -> int | str:
    obj = _message(event)
    peer = obj.get("peer_id") or obj.get("user_id")
    return int(peer) if peer else str(event.get("event_id"))


def _sender(event: Event) -> int | None:
    if event.get("type") != "message_new":
        return None
    from_id = _message(event).get("from_id")
    return int(from_id) if from_id else None


def _admin(event: Event) -> int | None:
    if event.get("type") != "message_reply":
        return None
    admin = _message(event).get("admin_author_id")
    return int(admin) if admin else None

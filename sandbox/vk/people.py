"""Control API: customers and community admins acting in VK."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from typing import Any

from .base import CommunityRef, EmulatorBase, UserRef
from .errors import ControlError
from .events import emit, emit_message, store_message
from .media import customer_attachment
from .state import Community, Json, MessageRecord, now_ts


class PeopleApi(EmulatorBase):
    async def user_send(
        self,
        user: UserRef,
        community: CommunityRef,
        text: str = "",
        attachments: list[str | Json] | None = None,
        reply_to: int | None = None,
        fwd: list[int | Json] | None = None,
        *,
        payload: Json | str | None = None,
    ) -> Json:
        """A customer writes to the community (``message_new``). attachments: kinds "photo",
        "doc", "sticker", "audio_message", "wall", "link", or dicts {"type": kind, "data":
        bytes, "title": ...}. reply_to: a message id in this conversation. fwd: message ids of
        the community's mailbox or dicts {"from_id", "text"} (messages from elsewhere).
        Writing grants the community permission to answer."""
        person = self._user(user)
        group = self._community(community)
        conv = group.conversation(person.id)
        quoted = self._quoted_message(group, person.id, reply_to) if reply_to else None
        msg = store_message(
            self.state,
            group,
            person.id,
            person.id,
            text,
            attachments=[customer_attachment(self.state, person.id, a) for a in attachments or []],
            fwd_messages=[self._forwarded(group, item) for item in fwd or []],
            reply_to=quoted,
            payload=json.dumps(payload) if isinstance(payload, dict) else payload,
        )
        conv.allowed = True
        emit_message(self.state, group, msg, person)
        await asyncio.sleep(0)
        return msg.to_api()

    async def user_edit(
        self, user: UserRef, community: CommunityRef, message_id: int, text: str
    ) -> Json:
        """The customer edits one of their messages (``message_edit``)."""
        person = self._user(user)
        group = self._community(community)
        msg = group.conversation(person.id).messages.get(message_id)
        if msg is None or msg.deleted or msg.from_id != person.id:
            raise ControlError(f"user {person.id} has no message {message_id} in {group.id}")
        msg.text = text
        msg.update_time = now_ts()
        emit(self.state, group, "message_edit", msg.to_api())
        await asyncio.sleep(0)
        return msg.to_api()

    def user_allow(self, user: UserRef, community: CommunityRef, key: str = "") -> None:
        """The customer allows messages from the community (``message_allow``)."""
        person = self._user(user)
        group = self._community(community)
        group.conversation(person.id).allowed = True
        emit(self.state, group, "message_allow", {"user_id": person.id, "key": key})

    def user_deny(self, user: UserRef, community: CommunityRef) -> None:
        """The customer denies messages (``message_deny``): sends answer 901 from now on."""
        person = self._user(user)
        group = self._community(community)
        group.conversation(person.id).allowed = False
        emit(self.state, group, "message_deny", {"user_id": person.id})

    def set_blacklisted(self, user: UserRef, community: CommunityRef, value: bool = True) -> None:
        """The community bans the user: sends answer 900."""
        person = self._user(user)
        self._community(community).conversation(person.id).blacklisted = value
        self.state.notifier.notify()

    def set_privacy(self, user: UserRef, closed: bool = True) -> None:
        """The user's privacy settings forbid messages from communities: sends answer 902."""
        self._user(user).privacy_closed = closed
        self.state.notifier.notify()

    async def admin_reply(
        self,
        community: CommunityRef,
        peer_id: int,
        text: str,
        admin_id: int | None = None,
    ) -> Json:
        """An admin answers in VK's web inbox: a community message (``from_id`` = -group id,
        ``admin_author_id``) that reaches the bot only as ``message_reply``."""
        group = self._community(community)
        conv = group.conversations.get(peer_id)
        if conv is None or conv.allowed is not True:
            raise ControlError(f"user {peer_id} has not allowed messages from {group.id}")
        msg = store_message(
            self.state,
            group,
            peer_id,
            -group.id,
            text,
            admin_author_id=admin_id or self._admin_of(group),
        )
        emit_message(self.state, group, msg)
        await asyncio.sleep(0)
        return msg.to_api()

    async def admin_edit(self, community: CommunityRef, message_id: int, text: str) -> Json:
        """An admin edits a community message in VK's web inbox (``message_edit``)."""
        group = self._community(community)
        msg = group.find_message(message_id)
        if msg is None or msg.deleted or msg.from_id != -group.id:
            raise ControlError(f"community {group.id} has no message {message_id}")
        msg.text = text
        msg.update_time = max(now_ts(), msg.date + 1)
        emit(self.state, group, "message_edit", msg.to_api())
        await asyncio.sleep(0)
        return msg.to_api()

    async def user_press_button(
        self,
        user: UserRef,
        community: CommunityRef,
        payload: Json | str | None,
        conversation_message_id: int | None = None,
    ) -> Json:
        """The customer presses a callback button (``message_event``); returns the event's
        object (its ``event_id`` is what messages.sendMessageEventAnswer takes)."""
        person = self._user(user)
        group = self._community(community)
        if not group.bot_capabilities:
            raise ControlError(f"community {group.id} has bot capabilities off")
        if isinstance(payload, str):
            with contextlib.suppress(ValueError):
                payload = json.loads(payload)
        event_id = secrets.token_hex(6)
        obj: Json = {
            "user_id": person.id,
            "peer_id": person.id,
            "event_id": event_id,
            "payload": payload,
            "conversation_message_id": conversation_message_id or 0,
        }
        group.button_events[event_id] = {
            "user_id": person.id,
            "peer_id": person.id,
            "payload": payload,
            "time": time.monotonic(),
            "answer": None,
        }
        emit(self.state, group, "message_event", obj)
        await asyncio.sleep(0)
        return obj

    # ---- helpers ------------------------------------------------------------------------
    def _admin_of(self, group: Community) -> int:
        if not group.admin_id:
            raise ControlError(f"community {group.id} has no admin: pass admin_id=")
        return group.admin_id

    def _quoted_message(self, group: Community, peer_id: int, message_id: int) -> MessageRecord:
        msg = group.conversation(peer_id).messages.get(message_id)
        if msg is None or msg.deleted:
            raise ControlError(f"no message {message_id} with {peer_id} in {group.id}")
        return msg

    def _forwarded(self, group: Community, item: int | Json) -> Json:
        if isinstance(item, int):
            msg = group.find_message(item)
            if msg is None:
                raise ControlError(f"no message {item} in {group.id}")
            return msg.to_quoted()
        base: dict[str, Any] = {
            "date": now_ts(),
            "from_id": 0,
            "text": "",
            "attachments": [],
            "conversation_message_id": 0,
            "fwd_messages": [],
            "peer_id": 0,
        }
        base.update(item)
        return base

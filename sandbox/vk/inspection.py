"""Control API: reading what happened (messages, events, requests, files) and waiting for it."""

from __future__ import annotations

import re
from typing import Any

from ..common.inspection import RequestLogInspection
from .base import CommunityRef, EmulatorBase
from .errors import ControlError
from .limits import Violation
from .server import RequestRecord
from .state import Json

_FILE_URL_RE = re.compile(r"/files/([0-9A-Za-z]+)")
_ATTACHMENT_RE = re.compile(r"^(photo|doc)(-?\d+)_(\d+)")


class InspectionApi(EmulatorBase, RequestLogInspection[RequestRecord, Violation]):
    # Request records name a_check "longpoll"; calls("longpoll") finds them.
    _poll_method = "longpoll"
    _report_title = "VK API calls (successful long polls omitted)"
    _report_hint = "(none: is the client calling this emulator's base_url?)"

    def messages(
        self, community: CommunityRef, peer_id: int, *, include_deleted: bool = False
    ) -> list[Json]:
        """The conversation in order, both sides, as VK message objects (edits applied,
        attachments resolved to full objects)."""
        conv = self._community(community).conversations.get(peer_id)
        if conv is None:
            return []
        return [m.to_api() for m in conv.messages.values() if include_deleted or not m.deleted]

    def message(self, community: CommunityRef, message_id: int) -> Json | None:
        msg = self._community(community).find_message(message_id)
        return msg.to_api() if msg is not None else None

    def events(self, community: CommunityRef, event_type: str | None = None) -> list[Json]:
        """Events still kept in the long-poll history (delivered or not)."""
        lp = self._community(community).longpoll
        return [e for _, e in lp.history if event_type is None or e["type"] == event_type]

    def event_answer(self, community: CommunityRef, event_id: str) -> Json | None:
        """What messages.sendMessageEventAnswer said for a button press (None: unanswered)."""
        press = self._community(community).button_events.get(event_id)
        if press is None:
            raise ControlError(f"no button press {event_id}")
        answer: Json | None = press["answer"]
        return answer

    def file_bytes(self, ref: str | Json) -> bytes:
        """The bytes behind an attachment: a URL from a message, an attachment string
        (``photo-1_2``), or an attachment object ({"type": "photo", "photo": {...}})."""
        state = self.state
        if isinstance(ref, dict):
            kind = ref["type"]
            obj = ref[kind]
            ref = f"{'photo' if kind == 'photo' else 'doc'}{obj['owner_id']}_{obj['id']}"
        match = _ATTACHMENT_RE.match(ref)
        if match is not None:
            kind, owner, item_id = match.groups()
            store: Any = state.photos if kind == "photo" else state.docs
            item = store.get((int(owner), int(item_id)))
            if item is None:
                raise ControlError(f"no attachment {ref}")
            return state.blobs[item.blob].data
        url = _FILE_URL_RE.search(ref)
        if url is None or url.group(1) not in state.blobs:
            raise ControlError(f"no file behind {ref!r}")
        return state.blobs[url.group(1)].data

    def snapshot(self) -> Json:
        """A JSON summary of the world (what ``GET /_control/state`` answers)."""
        state = self.state
        return {
            "communities": [
                {
                    "id": c.id,
                    "name": c.name,
                    "admin_id": c.admin_id,
                    "longpoll_ts": c.longpoll.next_ts,
                    "conversations": [
                        {
                            "peer_id": conv.peer_id,
                            "allowed": conv.allowed,
                            "blacklisted": conv.blacklisted,
                            "messages": sum(not m.deleted for m in conv.messages.values()),
                        }
                        for conv in c.conversations.values()
                    ],
                }
                for c in state.communities.values()
            ],
            "users": [
                {
                    "id": u.id,
                    "first_name": u.first_name,
                    "last_name": u.last_name,
                    "screen_name": u.screen_name,
                }
                for u in state.users.values()
            ],
            "rate_limit": self.limiter.config.__dict__,
            "options": state.options.__dict__,
            "violations": len(self.limiter.violations),
            "requests": len(self.server.requests),
        }

    def _report_line(self, record: RequestRecord) -> str:
        outcome = "ok" if record.ok else record.error_msg or "dropped"
        text = record.params.get("message", "")
        line = f"  {record.method} peer={record.peer_id} -> {record.error_code or ''} {outcome}"
        return line + (f" text={text[:60]!r}" if text else "")

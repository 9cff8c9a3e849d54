"""HTTP mirror of the control API (``/_control/...``) for a client running in another process.

A thin JSON layer: every POST action calls the Python method of the same name with the body's
fields. Users and communities are referenced by id (``user_id``, ``group_id``); attachment
bytes travel as ``data_base64``. Answers: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "..."}`` (HTTP 400/404).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..common.control import Action, ControlRoutes
from .errors import ControlError

if TYPE_CHECKING:
    from .emulator import VkEmulator


def _attachments(raw: Any) -> list[Any] | None:
    if raw is None:
        return None
    result = []
    for item in raw:
        if isinstance(item, dict) and "data_base64" in item:
            decoded = dict(item)
            decoded["data"] = base64.b64decode(decoded.pop("data_base64"))
            result.append(decoded)
        else:
            result.append(item)
    return result


class ControlApi(ControlRoutes):
    def __init__(self, emulator: VkEmulator) -> None:
        super().__init__(emulator, ControlError)
        self.emu = emulator
        emu = emulator
        self.actions: dict[str, Action] = {
            "add_community": self._add_community,
            "add_user": self._add_user,
            "user_send": lambda b: emu.user_send(
                b["user_id"],
                b["group_id"],
                b.get("text", ""),
                _attachments(b.get("attachments")),
                b.get("reply_to"),
                b.get("fwd"),
                payload=b.get("payload"),
            ),
            "user_edit": lambda b: emu.user_edit(
                b["user_id"], b["group_id"], int(b["message_id"]), b["text"]
            ),
            "user_allow": _sync(lambda b: emu.user_allow(b["user_id"], b["group_id"])),
            "user_deny": _sync(lambda b: emu.user_deny(b["user_id"], b["group_id"])),
            "set_blacklisted": _sync(
                lambda b: emu.set_blacklisted(
                    b["user_id"], b["group_id"], bool(b.get("value", True))
                )
            ),
            "set_privacy": _sync(
                lambda b: emu.set_privacy(b["user_id"], bool(b.get("closed", True)))
            ),
            "admin_reply": lambda b: emu.admin_reply(
                b["group_id"], int(b["peer_id"]), b["text"], b.get("admin_id")
            ),
            "admin_edit": lambda b: emu.admin_edit(
                b["group_id"], int(b["message_id"]), b["text"]
            ),
            "user_press_button": lambda b: emu.user_press_button(
                b["user_id"], b["group_id"], b.get("payload"), b.get("conversation_message_id")
            ),
            "rate_limit": _sync(
                lambda b: emu.set_rate_limit(
                    bool(b.get("enabled", True)),
                    b.get("count"),
                    b.get("window"),
                    lp_server_count=b.get("lp_server_count"),
                    lp_server_window=b.get("lp_server_window"),
                )
            ),
            "inject_fault": _sync(
                lambda b: emu.inject_fault(
                    b["method"],
                    int(b["error_code"]),
                    b.get("error_msg"),
                    b.get("times", 1),
                    peer_id=b.get("peer_id"),
                )
            ),
            "inject_delay": _sync(
                lambda b: emu.inject_delay(
                    b["method"], float(b["seconds"]), b.get("times", 1), peer_id=b.get("peer_id")
                )
            ),
            "drop_connection": _sync(
                lambda b: emu.drop_connection(
                    b["method"],
                    b.get("times", 1),
                    after=bool(b.get("after", False)),
                    peer_id=b.get("peer_id"),
                )
            ),
            "longpoll_fault": _sync(
                lambda b: emu.longpoll_fault(
                    b["kind"], b.get("code"), b.get("times", 1), after=float(b.get("after", 0))
                )
            ),
            "reset_faults": _sync(lambda b: emu.reset_faults()),
            "expire_key": _sync(lambda b: emu.expire_key(b["group_id"])),
            "lose_history": _sync(lambda b: emu.lose_history(b["group_id"])),
            "trim_history": _sync(lambda b: emu.trim_history(b["group_id"], b.get("keep", 0))),
            "clear_requests": _sync(lambda b: emu.clear_requests()),
            "set_callback_server": self._set_callback_server,
            "options": self._options,
        }

    def routes(self) -> list[web.RouteDef]:
        emu = self.emu
        return [
            web.get("/_control/state", self._get(lambda q: emu.snapshot())),
            web.get(
                "/_control/messages",
                self._get(lambda q: emu.messages(int(q["group_id"]), int(q["peer_id"]))),
            ),
            web.get(
                "/_control/events",
                self._get(lambda q: emu.events(int(q["group_id"]), q.get("type"))),
            ),
            web.get("/_control/requests", self._get(self._requests)),
            web.get(
                "/_control/violations", self._get(lambda q: [v.__dict__ for v in emu.violations])
            ),
            web.get(
                "/_control/file",
                self._get(lambda q: base64.b64encode(emu.file_bytes(q["ref"])).decode()),
            ),
            web.post("/_control/{action}", self._post),
        ]

    async def _add_community(self, body: dict[str, Any]) -> Any:
        community = self.emu.add_community(
            body.get("group_id"),
            body.get("name", "Support"),
            body.get("token"),
            screen_name=body.get("screen_name"),
            bot_capabilities=bool(body.get("bot_capabilities", True)),
        )
        return {"id": community.id, "token": community.token, "admin_id": community.admin_id}

    async def _add_user(self, body: dict[str, Any]) -> Any:
        user = self.emu.add_user(
            body.get("first_name", "User"),
            body.get("last_name", "Test"),
            body.get("screen_name"),
            int(body.get("lang_id", 0)),
            sex=int(body.get("sex", 0)),
            user_id=body.get("user_id"),
        )
        return user.__dict__

    async def _set_callback_server(self, body: dict[str, Any]) -> Any:
        server = await self.emu.set_callback_server(body["group_id"], body["url"],
                                                    body.get("secret"))
        return {"url": server.url, "confirmed": server.confirmed}

    async def _options(self, body: dict[str, Any]) -> Any:
        options = self.emu.options
        for key, value in body.items():
            if not hasattr(options, key):
                raise KeyError(f"unknown option {key!r}")
            setattr(options, key, type(getattr(options, key))(value))
        return options.__dict__


def _sync(call: Callable[[dict[str, Any]], Any]) -> Action:
    async def action(body: dict[str, Any]) -> Any:
        result = call(body)
        return True if result is None else result

    return action

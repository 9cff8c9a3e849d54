"""HTTP mirror of the control API (``/_control/...``) for a bot running in another process.

A thin JSON layer: every action calls the Python method of the same name. People and bots
are referenced by id (``user_id``, ``bot_id``); binary data travels as ``data_base64``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..common.control import Action, ControlRoutes
from .errors import ControlError

if TYPE_CHECKING:
    from .emulator import TelegramEmulator


def _limit(value: Any) -> tuple[int, float] | None:
    return None if value is None else (int(value[0]), float(value[1]))


class ControlApi(ControlRoutes):
    def __init__(self, emulator: TelegramEmulator) -> None:
        super().__init__(emulator, ControlError)
        self.emu = emulator
        self.actions: dict[str, Action] = {
            "add_bot": self._add_bot,
            "add_user": self._add_user,
            "create_supergroup": self._create_supergroup,
            "add_member": self._add_member,
            "user_send": self._user_send,
            "user_send_many": self._user_send_many,
            "user_send_media": self._user_send_media,
            "user_edit": self._user_edit,
            "user_delete": self._user_delete,
            "user_block_bot": self._user_block_bot,
            "user_unblock_bot": self._user_unblock_bot,
            "user_press_button": self._user_press_button,
            "create_topic": self._create_topic,
            "close_topic": self._close_topic,
            "reopen_topic": self._reopen_topic,
            "delete_topic": self._delete_topic,
            "rate_limits": self._rate_limits,
            "inject_fault": self._inject_fault,
            "inject_delay": self._inject_delay,
            "drop_connection": self._drop_connection,
            "reset_faults": self._reset_faults,
            "clear_requests": self._clear_requests,
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_control/state", self._get(lambda q: self.emu.snapshot())),
            web.get("/_control/messages", self._get(self._messages)),
            web.get("/_control/topics", self._get(lambda q: self.emu.topics(int(q["chat_id"])))),
            web.get("/_control/requests", self._get(self._requests)),
            web.get("/_control/violations", self._get(self._violations)),
            web.get("/_control/updates", self._get(self._updates)),
            web.post("/_control/{action}", self._post),
        ]

    def _bot(self, body: dict[str, Any]) -> int | None:
        return int(body["bot_id"]) if body.get("bot_id") is not None else None

    # ---- reads --------------------------------------------------------------------------
    def _messages(self, query: dict[str, str]) -> Any:
        from_bot: bool | int | None = None
        if "from_bot" in query:
            raw = query["from_bot"].lower()
            from_bot = raw in ("1", "true") if raw in ("0", "1", "true", "false") else int(raw)
        thread = int(query["thread_id"]) if "thread_id" in query else None
        bot = int(query["bot_id"]) if "bot_id" in query else None
        return self.emu.messages(int(query["chat_id"]), thread, from_bot, bot=bot)

    def _violations(self, query: dict[str, str]) -> Any:
        return [v.__dict__ for v in self.emu.violations]

    def _updates(self, query: dict[str, str]) -> Any:
        bot = int(query["bot_id"]) if "bot_id" in query else None
        return self.emu.pending_updates(bot)

    # ---- world --------------------------------------------------------------------------
    async def _add_bot(self, body: dict[str, Any]) -> Any:
        bot = self.emu.add_bot(
            body["token"],
            body.get("username"),
            body.get("first_name"),
            bot_to_bot=bool(body.get("bot_to_bot", False)),
        )
        return bot.to_api()

    async def _add_user(self, body: dict[str, Any]) -> Any:
        user = self.emu.add_user(
            body.get("first_name", "User"),
            body.get("last_name"),
            body.get("username"),
            body.get("language_code"),
            is_premium=bool(body.get("is_premium", False)),
            hide_forwards=bool(body.get("hide_forwards", False)),
            is_bot=bool(body.get("is_bot", False)),
            user_id=body.get("user_id"),
        )
        return user.to_api()

    async def _create_supergroup(self, body: dict[str, Any]) -> Any:
        chat_id = self.emu.create_supergroup(
            body.get("title", "Support"),
            bool(body.get("forum", True)),
            bool(body.get("bot_admin", True)),
            bool(body.get("can_manage_topics", True)),
            bots=body.get("bot_ids"),
            username=body.get("username"),
        )
        return {"chat_id": chat_id}

    async def _add_member(self, body: dict[str, Any]) -> Any:
        self.emu.add_member(
            int(body["chat_id"]),
            int(body["user_id"]),
            admin=bool(body.get("admin", False)),
            can_manage_topics=bool(body.get("can_manage_topics", False)),
        )
        return True

    # ---- people -------------------------------------------------------------------------
    async def _user_send(self, body: dict[str, Any]) -> Any:
        return await self.emu.user_send(
            int(body["user_id"]),
            int(body["chat_id"]),
            body["text"],
            body.get("thread_id"),
            body.get("reply_to"),
            body.get("entities"),
            bot=self._bot(body),
        )

    async def _user_send_many(self, body: dict[str, Any]) -> Any:
        """One person's texts, one message each, in order: a flood from another process
        without an HTTP request per message; other requests are served between them."""
        texts = body["texts"]
        if not isinstance(texts, list):
            raise ValueError("texts must be a list")
        user, chat, bot = int(body["user_id"]), int(body["chat_id"]), self._bot(body)
        sent = [await self.emu.user_send(user, chat, str(text), bot=bot) for text in texts]
        return {"message_ids": [msg["message_id"] for msg in sent]}

    async def _user_send_media(self, body: dict[str, Any]) -> Any:
        known = {"user_id", "chat_id", "kind", "caption", "media_group_id", "thread_id"}
        known |= {"reply_to", "data_base64", "file_name", "mime_type", "bot_id"}
        data = base64.b64decode(body["data_base64"]) if body.get("data_base64") else None
        return await self.emu.user_send_media(
            int(body["user_id"]),
            int(body["chat_id"]),
            body["kind"],
            body.get("caption"),
            body.get("media_group_id"),
            body.get("thread_id"),
            body.get("reply_to"),
            data,
            file_name=body.get("file_name"),
            mime_type=body.get("mime_type"),
            bot=self._bot(body),
            **{k: v for k, v in body.items() if k not in known},
        )

    async def _user_edit(self, body: dict[str, Any]) -> Any:
        return await self.emu.user_edit(
            int(body["user_id"]),
            int(body["chat_id"]),
            int(body["message_id"]),
            body.get("text"),
            body.get("caption"),
            media=body.get("media"),
            data=base64.b64decode(body["data_base64"]) if body.get("data_base64") else None,
            bot=self._bot(body),
        )

    async def _user_delete(self, body: dict[str, Any]) -> Any:
        await self.emu.user_delete(
            int(body["user_id"]), int(body["chat_id"]), int(body["message_id"]),
            bot=self._bot(body),
        )
        return True

    async def _user_block_bot(self, body: dict[str, Any]) -> Any:
        await self.emu.user_block_bot(int(body["user_id"]), self._bot(body))
        return True

    async def _user_unblock_bot(self, body: dict[str, Any]) -> Any:
        await self.emu.user_unblock_bot(int(body["user_id"]), self._bot(body))
        return True

    async def _user_press_button(self, body: dict[str, Any]) -> Any:
        query_id = await self.emu.user_press_button(
            int(body["user_id"]),
            int(body["chat_id"]),
            int(body["message_id"]),
            str(body["data"]),
            bot=self._bot(body),
        )
        return {"callback_query_id": query_id}

    # ---- topics -------------------------------------------------------------------------
    async def _create_topic(self, body: dict[str, Any]) -> Any:
        thread_id = self.emu.create_topic(int(body["chat_id"]), body["name"])
        return {"message_thread_id": thread_id}

    async def _close_topic(self, body: dict[str, Any]) -> Any:
        self.emu.close_topic(int(body["chat_id"]), int(body["thread_id"]))
        return True

    async def _reopen_topic(self, body: dict[str, Any]) -> Any:
        self.emu.reopen_topic(int(body["chat_id"]), int(body["thread_id"]))
        return True

    async def _delete_topic(self, body: dict[str, Any]) -> Any:
        self.emu.delete_topic(int(body["chat_id"]), int(body["thread_id"]))
        return True

    # ---- flood control and faults -------------------------------------------------------
    async def _rate_limits(self, body: dict[str, Any]) -> Any:
        self.emu.set_rate_limits(
            bool(body.get("enabled", True)),
            _limit(body.get("private")),
            _limit(body.get("group")),
            _limit(body.get("bot")),
        )
        return self.emu.limiter.config.__dict__

    async def _inject_fault(self, body: dict[str, Any]) -> Any:
        self.emu.inject_fault(
            body["method"],
            error_code=int(body["error_code"]),
            description=body["description"],
            retry_after=body.get("retry_after"),
            times=body.get("times", 1),
            chat_id=body.get("chat_id"),
            chance=float(body.get("chance", 1.0)),
        )
        return True

    async def _inject_delay(self, body: dict[str, Any]) -> Any:
        self.emu.inject_delay(body["method"], float(body["seconds"]), body.get("times", 1),
                              chance=float(body.get("chance", 1.0)))
        return True

    async def _drop_connection(self, body: dict[str, Any]) -> Any:
        self.emu.drop_connection(
            body["method"], body.get("times", 1), after=bool(body.get("after", False)),
            chance=float(body.get("chance", 1.0)),
        )
        return True

    async def _reset_faults(self, body: dict[str, Any]) -> Any:
        self.emu.reset_faults()
        return True

    async def _clear_requests(self, body: dict[str, Any]) -> Any:
        self.emu.clear_requests()
        return True

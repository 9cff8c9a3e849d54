"""What MAX users do (write, edit, delete, stop and start the bot, press buttons, write in
groups): each produces the update MAX would send the bot."""

from __future__ import annotations

import secrets
from typing import Any

from .api import new_message, resolve_link
from .state import BotRecord, ControlError, Json, State, UserRecord, now_ms

UserRef = UserRecord | int


def incoming_attachment(state: State, item: Any) -> Json:
    """An attachment as a customer's message carries it: ``"image"``, ``"sticker"`` or a
    dict ``{"type", "data", "filename"?}``; locations and contacts as MAX describes them."""
    spec: Json = {"type": item} if isinstance(item, str) else dict(item)
    kind = spec["type"]
    data = spec.get("data", b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(16))
    if kind == "image":
        return {"type": "image", "payload": {"photo_id": 1, "token": secrets.token_hex(8),
                                             "url": state.file_url(data)}}
    if kind == "file":
        return {"type": "file", "payload": {"url": state.file_url(data),
                                            "token": secrets.token_hex(8)},
                "filename": spec.get("filename", "file.bin"), "size": len(data)}
    if kind in ("audio", "video"):
        return {"type": kind, "payload": {"url": state.file_url(data),
                                          "token": secrets.token_hex(8)}}
    if kind == "sticker":
        return {"type": "sticker", "payload": {"url": state.file_url(data), "code": "c0de"}}
    if kind == "location":
        return {"type": "location", "latitude": spec.get("latitude", 55.75),
                "longitude": spec.get("longitude", 37.62)}
    if kind == "contact":
        return {"type": "contact", "payload": {"vcf_info": spec.get("vcf", "BEGIN:VCARD"),
                                               "max_info": None}}
    raise ControlError(f"unknown attachment type {kind!r}")


class PeopleApi:
    state: State

    def _user(self, user: UserRef) -> UserRecord:
        user_id = user if isinstance(user, int) else user.user_id
        if user_id not in self.state.users:
            raise ControlError(f"unknown user {user_id}")
        return self.state.users[user_id]

    @property
    def bot(self) -> BotRecord:
        if not self.state.bots:
            raise ControlError("no bot: add_bot() first")
        return next(iter(self.state.bots.values()))

    def user_send(self, user: UserRef, text: str = "", attachments: list[Any] | None = None,
                  reply_to: str | None = None) -> Json:
        """The customer writes to the bot (message_created); writing again after stopping
        the bot makes the dialog usable again."""
        record, bot = self._user(user), self.bot
        dialog = self.state.dialog(bot, record.user_id)
        dialog.stopped = False
        shown = [incoming_attachment(self.state, a) for a in attachments or []]
        message = new_message(self.state, bot, record.to_api(), dialog, text, shown,
                              resolve_link(self.state, reply_to))
        self.state.push(bot, {"update_type": "message_created", "message": message,
                              "user_locale": "ru"})
        return message

    def user_edit(self, mid: str, text: str) -> Json:
        message = self.state.messages[mid]
        message["body"]["text"] = text
        self.state.push(self.bot, {"update_type": "message_edited", "message": message})
        return message

    def user_remove(self, mid: str) -> None:
        message = self.state.messages[mid]
        self.state.deleted.add(mid)
        self.state.push(self.bot, {
            "update_type": "message_removed", "message_id": mid,
            "chat_id": message["recipient"]["chat_id"],
            "user_id": message["sender"]["user_id"]})

    def user_stops(self, user: UserRef) -> None:
        record, bot = self._user(user), self.bot
        dialog = self.state.dialog(bot, record.user_id)
        dialog.stopped = True
        self.state.push(bot, {"update_type": "bot_stopped", "chat_id": dialog.chat_id,
                              "user": record.to_api()})

    def user_starts(self, user: UserRef, payload: str | None = None) -> None:
        record, bot = self._user(user), self.bot
        dialog = self.state.dialog(bot, record.user_id)
        dialog.stopped = False
        update: Json = {"update_type": "bot_started", "chat_id": dialog.chat_id,
                        "user": record.to_api(), "user_locale": "ru"}
        if payload is not None:
            update["payload"] = payload
        self.state.push(bot, update)

    def user_press(self, user: UserRef, mid: str, payload: str) -> str:
        """The customer presses a callback button under message `mid`; the callback id."""
        record, bot = self._user(user), self.bot
        message = self.state.messages[mid]
        buttons = [b for a in message["body"]["attachments"] if a["type"] == "inline_keyboard"
                   for row in a["payload"]["buttons"] for b in row]
        if not any(b.get("type") == "callback" and b.get("payload") == payload
                   for b in buttons):
            raise ControlError(f"no callback button {payload!r} under {mid}")
        callback_id = secrets.token_hex(10)
        update: Json = {"update_type": "message_callback", "message": message,
                        "callback": {"timestamp": now_ms(), "callback_id": callback_id,
                                     "payload": payload, "user": record.to_api()}}
        self.state.callbacks[callback_id] = (bot, update)
        self.state.push(bot, update)
        return callback_id

    def group_message(self, user: UserRef, text: str, chat_id: int = -695_695_695_695) -> Json:
        """Someone writes in a group chat the bot is a member of (negative chat id)."""
        record, bot = self._user(user), self.bot
        bot.groups.add(chat_id)
        message = {"sender": record.to_api(),
                   "recipient": {"chat_id": chat_id, "chat_type": "chat", "user_id": None},
                   "timestamp": now_ms(),
                   "body": {"mid": self.state.new_mid(), "seq": next(self.state.seqs),
                            "text": text, "attachments": [], "markup": []}}
        self.state.push(bot, {"update_type": "message_created", "message": message})
        return message

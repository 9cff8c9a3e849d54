"""The MAX Bot API methods the emulator serves (each takes a `Call`, returns the JSON answer
or raises `MaxError`)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from .keyboard import check_attachments
from .markup import read
from .server import Call
from .state import BotRecord, Dialog, Json, MaxError, State, Upload, Webhook, now_ms

UPDATE_TYPES = frozenset({
    "message_created", "message_edited", "message_removed", "message_callback",
    "bot_started", "bot_stopped", "bot_added", "bot_removed", "user_added", "user_removed",
    "chat_title_changed", "dialog_muted", "dialog_unmuted", "dialog_cleared", "dialog_removed",
})


def bad(message: str, code: str = "proto.payload") -> MaxError:
    return MaxError(400, code, message)


def _int(query: dict[str, str], name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw in (None, "", "null"):
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad(f"{name}: must be an integer") from None


async def me(call: Call) -> Json:
    return call.bot.user.to_api()


async def updates(call: Call) -> Json:
    query = call.query
    limit = _int(query, "limit", 100) or 100
    timeout = _int(query, "timeout", int(call.state.options.default_poll_timeout)) or 0
    if not 1 <= limit <= 1000 or not 0 <= timeout <= 90:
        raise bad("limit must be 1..1000 and timeout 0..90")
    marker = _int(query, "marker")
    types = {t for t in (query.get("types") or "").split(",") if t}
    bot, state = call.bot, call.state
    deadline = time.monotonic() + timeout
    while True:
        if marker is not None:
            # The marker confirms everything before it: forget those updates.
            bot.updates[:] = [(m, u) for m, u in bot.updates if m >= marker]
        pending = [] if bot.webhook else [(m, u) for m, u in bot.updates
                                          if not types or u["update_type"] in types]
        if marker is None and pending:
            pending = pending[-1:]  # without a marker MAX now gives only the latest update
        remaining = deadline - time.monotonic()
        if pending or remaining <= 0 or state.closing:
            break
        await state.notifier.wait(remaining)
    batch = pending[:limit]
    # An empty answer still says where the stream stands (a client without a marker yet
    # gets one).
    next_marker = batch[-1][0] + 1 if batch else (marker or state.next_marker)
    return {"updates": [u for _, u in batch], "marker": next_marker}


async def send(call: Call) -> Json:
    state, bot, body = call.state, call.bot, call.body or {}
    dialog = _target(call)
    if dialog.stopped:
        raise MaxError(403, "chat.denied",
                       f"Key: error.dialog.suspended, args: [{dialog.chat_id},].")
    text = body.get("text")
    if text is not None and len(str(text)) > state.options.text_limit:
        raise bad(f"text: size must be between 0 and {state.options.text_limit}")
    attachments = check_attachments(state, body.get("attachments"))
    if not text and not attachments:
        raise bad("text or attachments required")
    link = _link(state, body.get("link"))
    shown, markup = read(str(text or ""), body.get("format"))
    message = _message(state, bot.user.to_api(), dialog, shown, attachments, link)
    message["body"]["markup"] = markup
    message["recipient"]["user_id"] = dialog.user_id
    return {"message": message}


async def edit(call: Call) -> Json:
    state, body = call.state, call.body or {}
    mid = call.query.get("message_id", "")
    message = state.messages.get(mid)
    if message is None or mid in state.deleted:
        raise MaxError(404, "not.found", "Message not found")
    if message["sender"]["user_id"] != call.bot.user.user_id:
        raise MaxError(403, "access.denied", "Can't edit a message of another user")
    text = body.get("text")
    if text is not None:
        if len(str(text)) > state.options.text_limit:
            raise bad(f"text: size must be between 0 and {state.options.text_limit}")
        message["body"]["text"], message["body"]["markup"] = read(str(text),
                                                                  body.get("format"))
    if body.get("attachments") is not None:  # null/omitted: unchanged; []: all removed
        message["body"]["attachments"] = check_attachments(state, body["attachments"])
    state.notifier.notify()
    return {"success": True}


async def delete(call: Call) -> Json:
    mid = call.query.get("message_id", "")
    if mid not in call.state.messages or mid in call.state.deleted:
        raise MaxError(404, "not.found", "Message not found")
    call.state.deleted.add(mid)
    call.state.notifier.notify()
    return {"success": True}


async def get_message(call: Call) -> Json:
    mid = call.request.match_info["mid"]
    if mid not in call.state.messages or mid in call.state.deleted:
        raise MaxError(404, "not.found", "Message not found")
    return call.state.messages[mid]


async def answer(call: Call) -> Json:
    callback_id = call.query.get("callback_id", "")
    if callback_id not in call.state.callbacks:
        raise MaxError(404, "not.found", "Callback not found")
    body = call.body or {}
    if not body.get("message") and not body.get("notification"):
        raise bad("message or notification required")
    call.bot.answers.append({"callback_id": callback_id, **body})
    call.state.notifier.notify()
    return {"success": True}


async def uploads(call: Call) -> Json:
    kind = call.query.get("type")
    if kind not in ("image", "video", "audio", "file"):
        raise bad(f"type: unknown upload type {kind!r}")
    slot = secrets.token_hex(8)
    upload = Upload(slot, kind, secrets.token_urlsafe(24))
    call.state.uploads[slot] = upload
    call.state.upload_tokens[upload.token] = upload
    answer: Json = {"url": f"{call.state.base_url}/upload/{slot}"}
    if kind in ("video", "audio"):
        answer["token"] = upload.token
    return answer


async def subscribe(call: Call) -> Json:
    body = call.body or {}
    url = str(body.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise bad("url: must be an http(s) URL")
    secret = body.get("secret")
    if secret is not None and not (5 <= len(secret) <= 256 and all(
            c.isalnum() or c in "_-" for c in secret)):
        raise bad("secret: must match [a-zA-Z0-9_-]{5,256}")
    call.bot.webhook = Webhook(url, secret, body.get("update_types"), now_ms())
    call.state.notifier.notify()
    return {"success": True}


async def subscriptions(call: Call) -> Json:
    hook = call.bot.webhook
    return {"subscriptions": [] if hook is None else [
        {"url": hook.url, "time": hook.time, "update_types": hook.update_types}]}


async def unsubscribe(call: Call) -> Json:
    if call.bot.webhook is not None and call.bot.webhook.url == call.query.get("url"):
        call.bot.webhook = None
    return {"success": True}


async def action(call: Call) -> Json:
    return {"success": True}


def _target(call: Call) -> Dialog:
    user_id, chat_id = _int(call.query, "user_id"), _int(call.query, "chat_id")
    bot = call.bot
    if user_id is not None:
        if user_id not in call.state.users:
            raise MaxError(404, "chat.not.found", f"Chat {user_id} not found")
        return call.state.dialog(bot, user_id)
    if chat_id is not None:
        dialog = call.state.dialog_by_chat(bot, chat_id)
        if dialog is None:
            raise MaxError(404, "chat.not.found", f"Chat {chat_id} not found")
        return dialog
    raise bad("user_id or chat_id required")


def _link(state: State, raw: Any) -> Json | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in ("reply", "forward"):
        raise bad("link: type must be reply or forward")
    quoted = state.messages.get(str(raw.get("mid")))
    if quoted is None:
        raise MaxError(404, "not.found", "Linked message not found")
    return {"type": raw["type"], "sender": quoted.get("sender"),
            "message": {"mid": quoted["body"]["mid"], "seq": quoted["body"]["seq"],
                        "text": quoted["body"]["text"],
                        "attachments": quoted["body"]["attachments"]}}


def _message(state: State, sender: Json, dialog: Dialog, text: str,
             attachments: list[Json], link: Json | None) -> Json:
    mid = state.new_mid()
    message: Json = {
        "sender": sender,
        "recipient": {"chat_id": dialog.chat_id, "chat_type": "dialog", "user_id": None},
        "timestamp": now_ms(),
        "body": {"mid": mid, "seq": next(state.seqs), "text": text,
                 "attachments": attachments, "markup": []},
    }
    if link is not None:
        message["link"] = link
    state.messages[mid] = message
    dialog.messages.append(mid)
    state.notifier.notify()
    return message


def new_message(state: State, bot: BotRecord, sender: Json, dialog: Dialog, text: str,
                attachments: list[Json], link: Json | None) -> Json:
    """A message the customer writes (recipient: the bot)."""
    message = _message(state, sender, dialog, text, attachments, link)
    message["recipient"]["user_id"] = bot.user.user_id
    return message


def resolve_link(state: State, mid: str | None) -> Json | None:
    return _link(state, {"type": "reply", "mid": mid}) if mid else None

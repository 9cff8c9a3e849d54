"""Bot identity, updates, webhooks, commands, chat info, callbacks and files."""

from __future__ import annotations

import asyncio
import json
import re

from ..delivery import render_chat
from ..errors import ApiError, bad_request
from ..state import DEFAULT_UPDATE_TYPES, ChatRecord, Json, MemberRecord, State
from .common import ensure_can_read
from .registry import Call, api_method

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile limit of the cloud Bot API
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


@api_method("getMe")
async def get_me(call: Call) -> Json:
    return {
        **call.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": not call.bot.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@api_method("getUpdates")
async def get_updates(call: Call) -> list[Json]:
    bot, params = call.bot, call.params
    if bot.webhook_url:
        raise ApiError(409, WEBHOOK_CONFLICT)
    offset = params.get_int("offset")
    limit = min(max(params.get_int("limit") or 100, 1), 100)
    timeout = max(params.get_int("timeout") or 0, 0)
    allowed = params.get_json("allowed_updates")
    if isinstance(allowed, list):
        # Remembered for later calls; an empty list means "back to the default set".
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    if offset is not None:
        if offset < 0:
            bot.updates = bot.updates[offset:]  # keep the last -offset updates
        else:
            bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
    bot.poll_generation += 1
    generation = bot.poll_generation
    call.state.notifier.notify()  # wakes an older poll of this bot so it answers 409
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if generation != bot.poll_generation:
            raise ApiError(409, CONFLICT)
        remaining = deadline - loop.time()
        if bot.updates or call.state.closing or remaining <= 0:
            return bot.updates[:limit]
        await call.state.notifier.wait(remaining)


_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@api_method("setWebhook")
async def set_webhook(call: Call) -> bool:
    bot, params = call.bot, call.params
    url = params.get_str("url") or ""
    secure = url.lower().startswith("https://") or (
        call.state.options.webhook_allow_http and url.lower().startswith("http://"))
    if url and not secure:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get_str("secret_token") or ""
    if secret and not _SECRET_RE.match(secret):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    max_connections = params.get_int("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    allowed = params.get_json("allowed_updates")
    if isinstance(allowed, list):
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    bot.webhook_url = url  # an empty url removes the webhook, like deleteWebhook
    bot.webhook_secret = secret
    bot.webhook_max_connections = max_connections
    bot.poll_generation += 1  # a waiting getUpdates answers 409, as on Telegram
    if params.get_bool("drop_pending_updates"):
        bot.updates.clear()
    call.state.notifier.notify()
    return True


@api_method("deleteWebhook")
async def delete_webhook(call: Call) -> bool:
    call.bot.webhook_url = ""
    call.bot.webhook_secret = ""
    if call.params.get_bool("drop_pending_updates"):
        call.bot.updates.clear()
    return True


@api_method("getWebhookInfo")
async def get_webhook_info(call: Call) -> Json:
    bot = call.bot
    info: Json = {
        "url": bot.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if bot.webhook_url:
        info["max_connections"] = bot.webhook_max_connections
        info["allowed_updates"] = sorted(bot.allowed_updates)
    if bot.webhook_last_error:
        info["last_error_message"] = bot.webhook_last_error
    return info


_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def _commands_key(call: Call) -> str:
    scope = call.params.get_json("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + (call.params.get_str("language_code") or "")


@api_method("setMyCommands")
async def set_my_commands(call: Call) -> bool:
    commands = call.params.get_json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("commands is empty" if commands is None else "too many commands")
    for item in commands:
        if not isinstance(item, dict) or not _COMMAND_RE.match(str(item.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(item.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    call.bot.commands[_commands_key(call)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


@api_method("getMyCommands")
async def get_my_commands(call: Call) -> list[Json]:
    return call.bot.commands.get(_commands_key(call), [])


@api_method("deleteMyCommands")
async def delete_my_commands(call: Call) -> bool:
    call.bot.commands.pop(_commands_key(call), None)
    return True


def render_member(state: State, chat: ChatRecord, member: MemberRecord) -> Json:
    data: Json = {"status": member.status, "user": state.users[member.user_id].to_api()}
    if member.status == "creator":
        data["is_anonymous"] = False
    elif member.status == "administrator":
        data.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_send_welcome_messages=False,
            can_pin_messages=True,
            can_manage_topics=member.can_manage_topics,
        )
    elif member.status == "kicked":
        data["until_date"] = 0
    return data


@api_method("getChat")
async def get_chat(call: Call) -> Json:
    chat = call.chat()
    ensure_can_read(call, chat)
    data = render_chat(call.state, chat)
    data.update(
        accent_color_id=0,
        max_reaction_count=11,
        accepted_gift_types={
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    )
    return data


@api_method("getChatMember")
async def get_chat_member(call: Call) -> Json:
    chat = call.chat()
    ensure_can_read(call, chat)
    user_id = call.params.require_int("user_id")
    if user_id not in call.state.users:
        raise bad_request("user not found")
    if chat.type == "private":
        member = MemberRecord(user_id, "member")
    else:
        member = chat.members.get(user_id) or MemberRecord(user_id, "left")
    return render_member(call.state, chat, member)


@api_method("getChatAdministrators")
async def get_chat_administrators(call: Call) -> list[Json]:
    chat = call.chat()
    ensure_can_read(call, chat)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    return [render_member(call.state, chat, m) for m in chat.members.values() if m.is_admin]


@api_method("getChatMemberCount")
async def get_chat_member_count(call: Call) -> int:
    chat = call.chat()
    ensure_can_read(call, chat)
    return 2 if chat.type == "private" else sum(m.present for m in chat.members.values())


@api_method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> bool:
    query_id = call.params.require_str("callback_query_id")
    query = call.state.callback_queries.get(query_id)
    if query is None or query["bot_id"] != call.bot.id or query["answered"]:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    params = call.params
    query["answered"] = True
    query["answer"] = {
        "text": params.get_str("text"),
        "show_alert": params.get_bool("show_alert"),
        "url": params.get_str("url"),
    }
    call.state.notifier.notify()
    return True


@api_method("getFile")
async def get_file(call: Call) -> Json:
    file_id = call.params.require_str("file_id")
    record, variant = call.state.file_by_id(call.bot, file_id)
    if len(record.data) > DOWNLOAD_LIMIT:
        raise bad_request("file is too big")
    return {
        "file_id": file_id,
        "file_unique_id": record.unique_id + variant,
        "file_size": len(record.data),
        "file_path": record.file_path,
    }

"""messages.* methods."""

from __future__ import annotations

import json
import time

from .errors import VkApiError, param_error
from .events import emit, emit_message, store_message
from .keyboard import parse_keyboard
from .media import resolve_attachments
from .registry import Call, method
from .state import Json, MessageRecord, now_ts

CHAT_PEER_BASE = 2_000_000_000
EDIT_WINDOW = 24 * 3600
SNACKBAR_MAX = 90


def _target_user(call: Call, peer_id: int) -> None:
    """Errors for peers the emulator (or VK) cannot message."""
    if peer_id >= CHAT_PEER_BASE:
        raise param_error("peer_id: group chats are not emulated")
    user = call.user(peer_id)
    if peer_id <= 0 or user is None:
        raise param_error("peer_id is invalid")
    if user.deactivated:
        raise VkApiError(18, "User was deleted or banned")


def _check_can_write(call: Call, peer_id: int) -> None:
    conv = call.community.conversations.get(peer_id)
    if conv is not None and conv.blacklisted:
        raise VkApiError(900)
    if conv is None or conv.allowed is not True:
        raise VkApiError(901)
    user = call.user(peer_id)
    if user is not None and user.privacy_closed:
        raise VkApiError(902)


def _text(call: Call) -> str:
    text = call.str("message")
    if len(text) > call.state.options.text_limit:
        raise VkApiError(914)
    return text


def _keyboard(call: Call) -> Json | None:
    if not call.has("keyboard"):
        return None
    return parse_keyboard(call.str("keyboard"), bot_capabilities=call.community.bot_capabilities)


def _live(call: Call, message_id: int) -> MessageRecord:
    msg = call.community.find_message(message_id)
    if msg is None or msg.deleted:
        raise param_error(f"message {message_id} not found")
    return msg


def _references(call: Call, peer_id: int) -> tuple[MessageRecord | None, list[Json]]:
    """reply_to / forward_messages / forward -> (replied message, forwarded messages)."""
    reply: MessageRecord | None = None
    fwd: list[Json] = []
    if call.has("reply_to"):
        reply = _live(call, call.int("reply_to"))
        if reply.peer_id != peer_id:
            raise param_error("reply_to: the message is from another conversation")
    if call.has("forward_messages"):
        fwd += [_live(call, i).to_quoted() for i in call.ints("forward_messages")]
    if call.has("forward"):
        try:
            spec = json.loads(call.str("forward"))
            source = call.community.conversation(int(spec["peer_id"]))
            cmids = [int(c) for c in spec.get("conversation_message_ids", [])]
            ids = [int(i) for i in spec.get("message_ids", [])]
        except (ValueError, KeyError, TypeError):
            raise param_error("forward is invalid") from None
        found = [source.by_cmid(c) for c in cmids] + [source.messages.get(i) for i in ids]
        if not found or any(m is None or m.deleted for m in found):
            raise param_error("forward: messages not found")
        picked = [m for m in found if m is not None]
        if spec.get("is_reply"):
            reply = picked[0]
        else:
            fwd += [m.to_quoted() for m in picked]
    return reply, fwd


@method("messages.send")
async def send(call: Call) -> int:
    if call.has("peer_ids") and not (call.has("peer_id") or call.has("user_id")):
        raise param_error("peer_ids is not supported by the emulator: use peer_id")
    peer_id = call.peer()
    if not call.has("random_id"):
        raise param_error("random_id is a required parameter")
    random_id = call.int("random_id")
    _target_user(call, peer_id)
    text = _text(call)
    attachments = resolve_attachments(call.state, call.community, call.str("attachment"))
    keyboard = _keyboard(call)
    reply, fwd = _references(call, peer_id)
    if not (text or attachments or fwd):
        raise param_error("message is empty or invalid")
    _check_can_write(call, peer_id)
    community = call.community
    now = time.monotonic()
    if random_id != 0:
        seen = community.random_ids.get((peer_id, random_id))
        if seen is not None and now - seen[1] < call.state.options.random_id_ttl:
            return seen[0]  # idempotent: the first message's id, nothing new is sent
    msg = store_message(
        call.state,
        community,
        peer_id,
        -community.id,
        text,
        attachments=attachments,
        fwd_messages=fwd,
        reply_to=reply,
        random_id=random_id,
        keyboard=keyboard,
        payload=call.str("payload") or None,
        admin_author_id=community.admin_id if call.state.options.admin_author_on_api_sends
        else None,
    )
    if random_id != 0:
        community.random_ids[(peer_id, random_id)] = (msg.id, now)
    emit_message(call.state, community, msg)
    return msg.id


@method("messages.edit")
async def edit(call: Call) -> int:
    peer_id = call.peer()
    conv = call.community.conversations.get(peer_id)
    msg: MessageRecord | None = None
    if conv is not None and call.has("conversation_message_id"):
        msg = conv.by_cmid(call.int("conversation_message_id"))
    elif conv is not None and call.has("message_id"):
        msg = conv.messages.get(call.int("message_id"))
    elif not (call.has("message_id") or call.has("conversation_message_id")):
        raise param_error("message_id or conversation_message_id is required")
    if msg is None or msg.deleted:
        raise param_error("message not found")
    if not msg.out:
        raise VkApiError(920)
    if now_ts() - msg.date > EDIT_WINDOW:
        raise VkApiError(909)
    text = _text(call)
    attachments = msg.attachments
    if call.has("attachment"):
        attachments = resolve_attachments(call.state, call.community, call.str("attachment"))
    keyboard = _keyboard(call)
    if not (text or attachments or msg.fwd_messages):
        raise param_error("message is empty or invalid")
    msg.text, msg.attachments = text, attachments
    if keyboard is not None:
        msg.keyboard = keyboard
    msg.update_time = now_ts()
    emit(call.state, call.community, "message_edit", msg.to_api())
    return 1


@method("messages.delete")
async def delete(call: Call) -> Json:
    if call.has("cmids"):
        conv = call.community.conversation(call.peer())
        found = [conv.by_cmid(c) for c in call.ints("cmids")]
        msgs = [m for m in found if m is not None and not m.deleted]
        if len(msgs) != len(found):
            raise param_error("cmids: message not found")
    else:
        msgs = [_live(call, i) for i in call.ints("message_ids", required=True)]
    for_all = call.bool("delete_for_all")
    if for_all and any(not m.out for m in msgs):
        raise VkApiError(924, "Can't delete this message for everybody")
    for msg in msgs:
        msg.deleted = True
    call.state.notifier.notify()
    return {str(m.id): 1 for m in msgs}


@method("messages.getById")
async def get_by_id(call: Call) -> Json:
    items = []
    for message_id in call.ints("message_ids", required=True):
        msg = call.community.find_message(message_id)
        if msg is not None and not msg.deleted:
            items.append(msg.to_api())
    return {"count": len(items), "items": items}


@method("messages.getByConversationMessageId")
async def get_by_cmid(call: Call) -> Json:
    conv = call.community.conversation(call.peer())
    found = [conv.by_cmid(c) for c in call.ints("conversation_message_ids", required=True)]
    items = [m.to_api() for m in found if m is not None and not m.deleted]
    return {"count": len(items), "items": items}


@method("messages.getConversationsById")
async def get_conversations_by_id(call: Call) -> Json:
    items = []
    for peer_id in call.ints("peer_ids", required=True):
        if call.user(peer_id) is None:
            continue
        conv = call.community.conversation(peer_id)
        can_write: Json = {"allowed": True}
        try:
            _check_can_write(call, peer_id)
        except VkApiError as error:
            can_write = {"allowed": False, "reason": error.error_code}
        last = max(conv.messages, default=0)
        items.append(
            {
                "peer": {"id": peer_id, "type": "user", "local_id": peer_id},
                "last_message_id": last,
                "last_conversation_message_id": conv.next_cmid - 1,
                "in_read": last,
                "out_read": last,
                "can_write": can_write,
            }
        )
    return {"count": len(items), "items": items}


@method("messages.sendMessageEventAnswer")
async def send_message_event_answer(call: Call) -> int:
    event_id = call.str("event_id", required=True)
    user_id, peer_id = call.int("user_id", required=True), call.int("peer_id", required=True)
    press = call.community.button_events.get(event_id)
    if press is None or press["user_id"] != user_id or press["peer_id"] != peer_id:
        raise param_error("event_id is invalid")
    if time.monotonic() - press["time"] > call.state.options.event_answer_ttl:
        raise param_error("event_id is expired")
    answer: Json | None = None
    if call.has("event_data"):
        try:
            answer = json.loads(call.str("event_data"))
        except ValueError:
            raise param_error("event_data is invalid") from None
        if not isinstance(answer, dict) or answer.get("type") not in (
            "show_snackbar",
            "open_link",
            "open_app",
        ):
            raise param_error("event_data: unknown type")
        if answer["type"] == "show_snackbar" and not 0 < len(answer.get("text", "")) <= (
            SNACKBAR_MAX
        ):
            raise param_error(f"event_data.text must be 1..{SNACKBAR_MAX} characters")
    press["answer"] = answer or {}
    call.state.notifier.notify()
    return 1


@method("messages.setActivity")
async def set_activity(call: Call) -> int:
    call.peer()
    return 1


@method("messages.markAsRead")
async def mark_as_read(call: Call) -> int:
    return 1

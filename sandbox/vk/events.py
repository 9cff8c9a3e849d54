"""Creating messages in conversations and emitting Bots Long Poll events (5.199 shapes)."""

from __future__ import annotations

import secrets

from .state import API_VERSION, Community, Json, MessageRecord, State, UserRecord, now_ts

BUTTON_ACTIONS = [
    "text",
    "vkpay",
    "open_app",
    "location",
    "open_link",
    "callback",
    "intent_subscribe",
    "intent_unsubscribe",
]


def client_info(user: UserRecord | None) -> Json:
    return {
        "button_actions": list(BUTTON_ACTIONS),
        "keyboard": True,
        "inline_keyboard": True,
        "carousel": True,
        "lang_id": user.lang_id if user else 0,
    }


def emit(state: State, community: Community, event_type: str, obj: Json) -> Json:
    event = {
        "group_id": community.id,
        "type": event_type,
        "event_id": secrets.token_hex(20),
        "v": API_VERSION,
        "object": obj,
    }
    community.longpoll.push(event)
    if community.callback is not None and community.callback.confirmed:
        community.callback.pending.append(event)
    state.notifier.notify()
    return event


def store_message(
    state: State,
    community: Community,
    peer_id: int,
    from_id: int,
    text: str,
    *,
    attachments: list[Json] | None = None,
    fwd_messages: list[Json] | None = None,
    reply_to: MessageRecord | None = None,
    random_id: int = 0,
    admin_author_id: int | None = None,
    keyboard: Json | None = None,
    payload: str | None = None,
) -> MessageRecord:
    conv = community.conversation(peer_id)
    msg = MessageRecord(
        id=community.next_message_id,
        cmid=conv.next_cmid,
        peer_id=peer_id,
        from_id=from_id,
        date=now_ts(),
        text=text,
        attachments=attachments or [],
        fwd_messages=fwd_messages or [],
        reply_message=reply_to.to_quoted() if reply_to is not None else None,
        random_id=random_id,
        admin_author_id=admin_author_id,
        keyboard=keyboard,
        payload=payload,
    )
    community.next_message_id += 1
    conv.next_cmid += 1
    conv.messages[msg.id] = msg
    return msg


def emit_message(
    state: State, community: Community, msg: MessageRecord, user: UserRecord | None = None
) -> Json:
    """message_new for a customer's message, message_reply for the community's."""
    if msg.out:
        return emit(state, community, "message_reply", msg.to_api())
    return emit(
        state,
        community,
        "message_new",
        {"message": msg.to_api(), "client_info": client_info(user)},
    )

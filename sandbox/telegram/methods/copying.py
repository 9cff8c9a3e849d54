"""copyMessage(s) and forwardMessage(s).

A caption over the bot's limit (a Telegram Premium user's, up to 2048 characters) survives a
copy only when Telegram can copy the message on its servers as it is. TDLib does that unless
the copy gets a new non-empty caption, a reply markup, or a reply target other than the
topic's own first message (``MessageCopyOptions::is_supported_server_side`` in tdlib/td);
otherwise the content is sent anew and the old caption is measured against the bot's limit:
"Bad Request: message caption is too long" (levlam in tdlib/telegram-bot-api#334: "If message
is copied as is, then the request succeeds"). A topic alone is no change (the server-side
forward takes ``top_msg_id``), and copyMessages, which has no reply or markup parameter,
always copies as is.
"""

from __future__ import annotations

import copy
from typing import Any

from ..entities import utf16_len
from ..errors import bad_request
from ..media import content_kind
from ..state import ChatRecord, Json, MessageRecord
from .common import (
    MAX_CAPTION,
    Destination,
    caption_fields,
    ensure_can_read,
    resolve_destination,
    send,
)
from .registry import Call, api_method

MAX_BATCH = 100
# Content Telegram refuses to copy or forward (service messages are refused separately).
_UNCOPYABLE_FIELDS = ("invoice", "giveaway", "giveaway_winners", "paid_media", "story")


def _source_chat(call: Call) -> ChatRecord:
    chat = call.chat("from_chat_id")
    ensure_can_read(call, chat)
    return chat


def _copyable(msg: MessageRecord) -> bool:
    if msg.service or any(key in msg.content for key in _UNCOPYABLE_FIELDS):
        return False
    poll = msg.content.get("poll")
    return not (poll and poll.get("type") == "quiz" and "correct_option_id" not in poll)


def _sent_anew(call: Call, dest: Destination) -> bool:
    """Whether the copy changes what Telegram can't change on its servers (see above)."""
    if call.params.get_json("reply_markup") is not None:
        return True
    return dest.reply_to is not None and dest.reply_to != dest.thread_id


def _copied_content(
    call: Call, src: MessageRecord, *, remove_caption: bool = False, sent_anew: bool = False
) -> Json:
    content = copy.deepcopy(src.content)
    content.pop("forward_origin", None)  # a copy has no link to its source
    if "poll" in content:
        content["poll"].update(id=call.state.new_callback_id(), total_voter_count=0)
    if content_kind(content) is None:
        return content
    params = call.params
    if remove_caption:
        content.pop("caption", None)
        content.pop("caption_entities", None)
    elif params.has("caption"):
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(
            caption_fields(
                call,
                params.get_str("caption"),
                params.get_str("parse_mode"),
                params.get_json("caption_entities"),
            )
        )
    elif sent_anew and utf16_len(content.get("caption", "")) > MAX_CAPTION:
        # A Premium user's long caption, sent anew as the bot's own: over the bot's limit.
        raise bad_request("message caption is too long")
    return content


def _forwarded_content(call: Call, src: MessageRecord) -> Json:
    content = copy.deepcopy(src.content)
    if "forward_origin" not in content:  # forwarding a forward keeps the first origin
        sender = call.state.users[src.sender_id]
        if sender.hide_forwards and not sender.is_bot:
            origin: Json = {
                "type": "hidden_user",
                "sender_user_name": sender.full_name,
                "date": src.date,
            }
        else:
            origin = {"type": "user", "sender_user": sender.to_api(), "date": src.date}
        content["forward_origin"] = origin
    return content


@api_method("copyMessage")
async def copy_message(call: Call) -> Json:
    source_chat = _source_chat(call)
    src = source_chat.live_message(call.params.require_int("message_id"))
    if src is None:
        raise bad_request("message to copy not found")
    if not _copyable(src):
        raise bad_request("message can't be copied")
    dest = resolve_destination(call)
    content = _copied_content(
        call,
        src,
        remove_caption=call.params.get_bool("remove_caption"),
        sent_anew=_sent_anew(call, dest),
    )
    msg = send(call, content, destination=dest)
    return {"message_id": msg.message_id}


@api_method("forwardMessage")
async def forward_message(call: Call) -> Json:
    source_chat = _source_chat(call)
    src = source_chat.live_message(call.params.require_int("message_id"))
    if src is None:
        raise bad_request("message to forward not found")
    if not _copyable(src):
        raise bad_request("message can't be forwarded")
    dest = resolve_destination(call)
    return call.render(send(call, _forwarded_content(call, src), destination=dest))


def _message_ids(call: Call) -> list[int]:
    ids: Any = call.params.get_json("message_ids")
    if not isinstance(ids, list) or not ids:
        raise bad_request("message_ids is empty")
    if len(ids) > MAX_BATCH:
        raise bad_request("too many messages")
    numbers = [int(i) for i in ids]
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise bad_request("message identifiers must be in strictly increasing order")
    return numbers


async def _batch(call: Call, *, forward: bool) -> list[Json]:
    """forwardMessages/copyMessages. Like Telegram, messages that can't be found or copied
    are skipped and the answer lists only the copies made, so it can be shorter than
    ``message_ids`` and does not say which sources were skipped."""
    source_chat = _source_chat(call)
    ids = _message_ids(call)
    sources = [
        msg
        for msg in (source_chat.live_message(i) for i in ids)
        if msg is not None and _copyable(msg)
    ]
    if not sources:
        # TDLib's wording, which the Bot API passes through for copyMessages too.
        raise bad_request("there are no messages to forward")
    dest = resolve_destination(call)
    remove_caption = call.params.get_bool("remove_caption")
    contents = [
        _forwarded_content(call, src)
        if forward
        else _copied_content(call, src, remove_caption=remove_caption)
        for src in sources
    ]
    call.acquire(dest.chat, count=len(contents))  # each copied message counts
    # Albums stay albums: copies of one source album share one new media_group_id.
    new_groups: dict[str, str] = {}
    result: list[Json] = []
    for src, content in zip(sources, contents, strict=True):
        group = None
        if src.media_group_id:
            group = new_groups.setdefault(src.media_group_id, call.state.new_media_group_id())
        msg = send(
            call, content, destination=dest, media_group_id=group, with_markup=False, charge=False
        )
        result.append({"message_id": msg.message_id})
    return result


@api_method("copyMessages")
async def copy_messages(call: Call) -> list[Json]:
    return await _batch(call, forward=False)


@api_method("forwardMessages")
async def forward_messages(call: Call) -> list[Json]:
    return await _batch(call, forward=True)

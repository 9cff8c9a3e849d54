"""send* methods."""

from __future__ import annotations

import random
from typing import Any

from ..errors import bad_request
from ..media import media_content, resolve_media
from ..state import Json
from .common import (
    caption_fields,
    ensure_can_write,
    message_text,
    request_caption,
    resolve_destination,
    send,
)
from .registry import Call, api_method


@api_method("sendMessage")
async def send_message(call: Call) -> Json:
    dest = resolve_destination(call)
    return call.render(send(call, message_text(call), destination=dest))


# method -> (file field, whether it takes a caption, numeric/text attributes it accepts)
_FILE_METHODS: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "sendPhoto": ("photo", True, ("has_spoiler",)),
    "sendDocument": ("document", True, ()),
    "sendVideo": ("video", True, ("width", "height", "duration")),
    "sendAnimation": ("animation", True, ("width", "height", "duration")),
    "sendVoice": ("voice", True, ("duration",)),
    "sendAudio": ("audio", True, ("duration", "performer", "title")),
    "sendVideoNote": ("video_note", False, ("duration", "length")),
    "sendSticker": ("sticker", False, ("emoji",)),
}


_NUMERIC = frozenset({"width", "height", "duration", "length"})


def _file_sender(kind: str, takes_caption: bool, attributes: tuple[str, ...]) -> Any:
    async def handler(call: Call) -> Json:
        dest = resolve_destination(call)
        params = call.params
        caption = request_caption(call) if takes_caption else {}
        record = resolve_media(call.state, call.bot, kind, params.file(kind))
        extra: Json = {}
        for name in attributes:
            if name in _NUMERIC:
                extra[name] = params.get_int(name)
            elif name != "has_spoiler":
                extra[name] = params.get_str(name)
        content = media_content(record, kind, extra)
        if "has_spoiler" in attributes and params.get_bool("has_spoiler"):
            content["has_media_spoiler"] = True
        content.update(caption)
        return call.render(send(call, content, destination=dest))

    return handler


for _name, (_kind, _caption, _attrs) in _FILE_METHODS.items():
    api_method(_name)(_file_sender(_kind, _caption, _attrs))


_ALBUM_KINDS = frozenset({"photo", "video", "document", "audio"})


@api_method("sendMediaGroup")
async def send_media_group(call: Call) -> list[Json]:
    media = call.params.get_json("media")
    if not isinstance(media, list):
        raise bad_request("media is empty" if media is None else "can't parse media JSON object")
    if not 2 <= len(media) <= 10:
        raise bad_request("media group must contain 2-10 items")
    kinds = {item.get("type") if isinstance(item, dict) else None for item in media}
    if not kinds <= _ALBUM_KINDS:
        raise bad_request("unsupported media type in the media group")
    for lonely in ("document", "audio"):
        if lonely in kinds and len(kinds) > 1:
            raise bad_request(f"{lonely} can't be mixed with other media types")
    dest = resolve_destination(call)
    contents: list[Json] = []
    for item in media:
        kind = item["type"]
        ref = item.get("media")
        value = call.params.resolve_file_ref(ref) if isinstance(ref, str) and ref else None
        record = resolve_media(call.state, call.bot, kind, value)
        content = media_content(record, kind, item)
        content.update(
            caption_fields(
                call, item.get("caption"), item.get("parse_mode"), item.get("caption_entities")
            )
        )
        contents.append(content)
    call.acquire(dest.chat, count=len(contents))  # every album item counts against the limit
    group_id = call.state.new_media_group_id()
    return [
        call.render(
            send(
                call,
                content,
                destination=dest,
                media_group_id=group_id,
                with_markup=False,
                charge=False,
            )
        )
        for content in contents
    ]


def _coordinate(call: Call, name: str, bound: float) -> float:
    value = call.params.get_float(name, required=True)
    assert value is not None
    if not -bound <= value <= bound:
        raise bad_request(f"wrong {name} specified")
    return value


def _location(call: Call) -> Json:
    return {
        "latitude": _coordinate(call, "latitude", 90),
        "longitude": _coordinate(call, "longitude", 180),
    }


@api_method("sendLocation")
async def send_location(call: Call) -> Json:
    dest = resolve_destination(call)
    return call.render(send(call, {"location": _location(call)}, destination=dest))


@api_method("sendVenue")
async def send_venue(call: Call) -> Json:
    dest = resolve_destination(call)
    params = call.params
    venue = {
        "location": _location(call),
        "title": params.require_str("title"),
        "address": params.require_str("address"),
    }
    content = {"venue": venue, "location": venue["location"]}
    return call.render(send(call, content, destination=dest))


@api_method("sendContact")
async def send_contact(call: Call) -> Json:
    dest = resolve_destination(call)
    params = call.params
    contact: Json = {
        "phone_number": params.require_str("phone_number"),
        "first_name": params.require_str("first_name"),
    }
    for key in ("last_name", "vcard"):
        if params.has(key):
            contact[key] = params.get_str(key)
    return call.render(send(call, {"contact": contact}, destination=dest))


_DICE_RANGES = {"🎲": 6, "🎯": 6, "🎳": 6, "🏀": 5, "⚽": 5, "🎰": 64}


@api_method("sendDice")
async def send_dice(call: Call) -> Json:
    dest = resolve_destination(call)
    emoji = call.params.get_str("emoji") or "🎲"
    if emoji not in _DICE_RANGES:
        raise bad_request("emoji must be one of the supported dice emoji")
    dice = {"emoji": emoji, "value": random.randint(1, _DICE_RANGES[emoji])}  # noqa: S311
    return call.render(send(call, {"dice": dice}, destination=dest))


@api_method("sendPoll")
async def send_poll(call: Call) -> Json:
    dest = resolve_destination(call)
    params = call.params
    options = params.get_json("options")
    if not isinstance(options, list) or not 2 <= len(options) <= 12:
        raise bad_request("POLL_ANSWERS_INVALID")
    texts = [o.get("text") if isinstance(o, dict) else str(o) for o in options]
    poll_type = params.get_str("type") or "regular"
    poll: Json = {
        "id": str(call.state.new_callback_id()),
        "question": params.require_str("question"),
        "options": [
            {"persistent_id": str(i), "text": text, "voter_count": 0}
            for i, text in enumerate(texts)
        ],
        "total_voter_count": 0,
        "is_closed": params.get_bool("is_closed"),
        "is_anonymous": params.get_bool("is_anonymous", default=True),
        "type": poll_type,
        "allows_multiple_answers": params.get_bool("allows_multiple_answers"),
        "allows_revoting": True,
        "members_only": False,
    }
    if poll_type == "quiz":
        poll["correct_option_id"] = params.get_int("correct_option_id") or 0
    return call.render(send(call, {"poll": poll}, destination=dest))


@api_method("sendChatAction")
async def send_chat_action(call: Call) -> bool:
    chat = call.chat()
    ensure_can_write(call, chat)
    if not call.params.has("action"):
        raise bad_request("action is empty")
    return True

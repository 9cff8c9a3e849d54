"""groups.*, users.*, photos.* and docs.* methods (uploads' HTTP side is in uploads.py)."""

from __future__ import annotations

import json

from .errors import VkApiError, param_error
from .media import attachment_of, new_doc, new_photo
from .registry import Call, method
from .state import Json, UploadSlot, random_key
from .uploads import image_size, upload_hash


@method("groups.getById")
async def groups_get_by_id(call: Call) -> Json:
    raw = call.str("group_ids") or call.str("group_id") or str(call.community.id)
    groups = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        found = next(
            (
                c
                for c in call.state.communities.values()
                if str(c.id) == part or c.screen_name == part
            ),
            None,
        )
        if found is None:
            raise param_error(f"group_ids: {part} is invalid")
        groups.append(found.to_api())
    return {"groups": groups, "profiles": []}


@method("groups.getLongPollServer")
async def get_long_poll_server(call: Call) -> Json:
    group_id = call.int("group_id", required=True)
    if group_id != call.community.id:
        raise VkApiError(15, "Access denied: no access to call this method")
    key = random_key(40)
    call.community.longpoll.keys[key] = "ok"
    return {
        "key": key,
        "server": f"{call.state.base_url}/lp/{group_id}",
        "ts": str(call.community.longpoll.next_ts),
    }


@method("users.get")
async def users_get(call: Call) -> list[Json]:
    fields = {f.strip() for f in call.str("fields").split(",")}
    wanted = [p.strip() for p in call.str("user_ids").split(",") if p.strip()]
    result = []
    for ref in wanted:
        user = next(
            (u for u in call.state.users.values() if str(u.id) == ref or u.screen_name == ref),
            None,
        )
        if user is None:
            continue
        data: Json = {
            "id": user.id,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "can_access_closed": not user.is_closed,
            "is_closed": user.is_closed,
        }
        if user.deactivated:
            data["deactivated"] = user.deactivated
        if "screen_name" in fields or "domain" in fields:
            data["screen_name" if "screen_name" in fields else "domain"] = user.screen_name
        for size in ("photo_50", "photo_100", "photo_200"):
            if size in fields:
                data[size] = f"https://sun.userapi.example/u{user.id}/{size[6:]}.jpg"
        if "sex" in fields:
            data["sex"] = user.sex
        result.append(data)
    if wanted and not result:
        raise VkApiError(113)
    return result


def _slot(call: Call, kind: str) -> str:
    slot_id = random_key(24)
    peer_id = call.int("peer_id", 0)
    call.state.upload_slots[slot_id] = UploadSlot(kind, call.community.id, peer_id)
    return f"{call.state.base_url}/upload/{'photo' if kind == 'photo' else 'doc'}/{slot_id}"


@method("photos.getMessagesUploadServer")
async def photos_get_upload_server(call: Call) -> Json:
    return {
        "album_id": -3,
        "upload_url": _slot(call, "photo"),
        "user_id": 0,
        "group_id": call.community.id,
    }


@method("photos.saveMessagesPhoto")
async def photos_save(call: Call) -> list[Json]:
    raw, server = call.str("photo", required=True), call.int("server", 0)
    try:
        items = json.loads(raw)
        token = items[0]["photo"]
    except (ValueError, LookupError, TypeError):
        raise param_error("photos_list is invalid") from None
    entry = call.state.uploaded.get(token)
    if entry is None or entry[0].kind != "photo" or entry[0].community_id != call.community.id:
        raise param_error("photos_list is invalid")
    if call.str("hash") != upload_hash(token, server):
        raise param_error("hash is invalid")
    del call.state.uploaded[token]
    data = call.state.blobs[entry[1]].data
    width, height = image_size(data)
    photo = new_photo(call.state, -call.community.id, data, width=width, height=height)
    return [attachment_of(call.state, photo)["photo"]]


@method("docs.getMessagesUploadServer")
async def docs_get_upload_server(call: Call) -> Json:
    kind = call.str("type", "doc")
    if kind not in ("doc", "audio_message"):
        raise param_error("type is invalid (emulated: doc, audio_message)")
    if not call.has("peer_id"):
        raise param_error("peer_id is a required parameter")
    return {"upload_url": _slot(call, kind)}


@method("docs.save")
async def docs_save(call: Call) -> Json:
    token = call.str("file", required=True)
    entry = call.state.uploaded.get(token)
    if entry is None or entry[0].kind == "photo" or entry[0].community_id != call.community.id:
        raise param_error("file is invalid")
    del call.state.uploaded[token]
    slot, blob = entry[0], call.state.blobs[entry[1]]
    title = call.str("title") or blob.name
    doc = new_doc(
        call.state,
        -call.community.id,
        blob.data,
        title,
        kind=slot.kind,
        content_type=blob.content_type,
    )
    return attachment_of(call.state, doc)

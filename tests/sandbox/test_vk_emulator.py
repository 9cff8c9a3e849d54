"""The VK API emulator, driven by a plain aiohttp client (relaydesk's VK transport does not
exist yet): error shapes, rate limits, Bots Long Poll, idempotent sends, permissions,
keyboards, uploads and the control API."""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sandbox.vk import Community, ControlError, UserRecord, VkEmulator

V = "5.199"


def png(width: int, height: int) -> bytes:
    """A valid PNG of the given size (grey pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class VkClient:
    """The smallest VK client: one aiohttp session, form-encoded POSTs."""

    def __init__(self, emu: VkEmulator, token: str) -> None:
        self.emu = emu
        self.token = token
        self.session = aiohttp.ClientSession()

    async def raw(self, method: str, **params: Any) -> dict[str, Any]:
        data = {k: str(v) for k, v in params.items() if v is not None}
        async with self.session.post(f"{self.emu.base_url}/method/{method}", data=data) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
            return body

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Body of a call with the token and version."""
        return await self.raw(method, access_token=self.token, v=V, **params)

    async def ok(self, method: str, **params: Any) -> Any:
        body = await self.call(method, **params)
        assert "error" not in body, body
        return body["response"]

    async def error(self, method: str, **params: Any) -> dict[str, Any]:
        body = await self.call(method, **params)
        assert "error" in body, body
        error: dict[str, Any] = body["error"]
        return error

    async def lp_server(self, group_id: int) -> dict[str, Any]:
        server: dict[str, Any] = await self.ok("groups.getLongPollServer", group_id=group_id)
        return server

    async def a_check(
        self, server: dict[str, Any], ts: Any = None, wait: float = 0, key: str | None = None
    ) -> dict[str, Any]:
        params = {
            "act": "a_check",
            "key": key or server["key"],
            "ts": str(server["ts"] if ts is None else ts),
            "wait": str(wait),
        }
        async with self.session.get(server["server"], params=params) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
            return body

    async def upload(self, url: str, field: str, data: bytes, filename: str) -> dict[str, Any]:
        form = aiohttp.FormData()
        form.add_field(field, data, filename=filename, content_type="application/octet-stream")
        async with self.session.post(url, data=form) as resp:
            body: dict[str, Any] = await resp.json()
            return body

    async def close(self) -> None:
        await self.session.close()


@pytest.fixture
async def vk() -> AsyncIterator[VkEmulator]:
    emulator = VkEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
def club(vk: VkEmulator) -> Community:
    return vk.add_community(name="Support")


@pytest.fixture
def anna(vk: VkEmulator) -> UserRecord:
    return vk.add_user("Anna", "Smirnova", screen_name="anna_s", sex=1)


@pytest.fixture
async def client(vk: VkEmulator, club: Community) -> AsyncIterator[VkClient]:
    api = VkClient(vk, club.token)
    try:
        yield api
    finally:
        await api.close()


def keyboard(rows: int, per_row: int, *, inline: bool = False, kind: str = "text") -> str:
    button = {"action": {"type": kind, "label": "Yes", "payload": '{"a":1}'}, "color": "primary"}
    return json.dumps(
        {"one_time": False, "inline": inline, "buttons": [[button] * per_row for _ in range(rows)]}
    )


# ---- method calls and error shapes ---------------------------------------------------------


async def test_error_shapes_echo_request_params(
    vk: VkEmulator, club: Community, client: VkClient
) -> None:
    body = await client.raw("users.get", v=V, user_ids="1")
    assert body["error"]["error_code"] == 5
    assert body["error"]["error_msg"].startswith("User authorization failed")
    body = await client.raw("users.get", access_token="nope", v=V)
    assert body["error"]["error_code"] == 5
    assert all(p["key"] != "access_token" for p in body["error"]["request_params"])
    body = await client.raw("users.get", access_token=club.token)
    assert body["error"]["error_code"] == 8 and "v (version)" in body["error"]["error_msg"]
    error = await client.error("messages.sendSomething", peer_id=1)
    assert (error["error_code"], error["error_msg"]) == (3, "Unknown method passed")
    error = await client.error("messages.send", peer_id=5, message="hi")
    assert error["error_code"] == 100
    assert error["error_msg"] == (
        "One of the parameters specified was missing or invalid: random_id is a required parameter"
    )
    echo = {p["key"]: p["value"] for p in error["request_params"]}
    assert echo == {
        "method": "messages.send",
        "oauth": "1",
        "v": V,
        "peer_id": "5",
        "message": "hi",
    }
    assert [r.error_code for r in vk.requests] == [5, 5, 8, 3, 100]


async def test_get_with_query_params_and_users_get(
    vk: VkEmulator, client: VkClient, anna: UserRecord
) -> None:
    params = {
        "access_token": client.token,
        "v": V,
        "user_ids": f"{anna.id},nobody_here",
        "fields": "screen_name,photo_100,sex",
        "lang": "en",
    }
    async with client.session.get(f"{vk.base_url}/method/users.get", params=params) as resp:
        users = (await resp.json())["response"]
    assert len(users) == 1
    user = users[0]
    assert {k: user[k] for k in ("id", "first_name", "last_name", "screen_name", "sex")} == {
        "id": anna.id,
        "first_name": "Anna",
        "last_name": "Smirnova",
        "screen_name": "anna_s",
        "sex": 1,
    }
    assert user["can_access_closed"] is True and user["is_closed"] is False
    assert user["photo_100"].startswith("https://")
    plain = await client.ok("users.get", user_ids="anna_s")
    assert plain[0]["id"] == anna.id and "screen_name" not in plain[0]
    assert (await client.error("users.get", user_ids="999"))["error_code"] == 113


async def test_groups_get_by_id(club: Community, client: VkClient) -> None:
    result = await client.ok("groups.getById")
    assert result["groups"][0]["id"] == club.id and result["groups"][0]["name"] == "Support"


async def test_injected_faults_and_delay(
    vk: VkEmulator, client: VkClient, anna: UserRecord, club: Community
) -> None:
    vk.inject_fault("users.get", 9, times=1)
    error = await client.error("users.get", user_ids=anna.id)
    assert (error["error_code"], error["error_msg"]) == (9, "Flood control")
    assert await client.ok("users.get", user_ids=anna.id)
    vk.inject_fault("*", 10, times=None)
    assert (await client.error("groups.getById"))["error_code"] == 10
    assert (await client.error("users.get"))["error_code"] == 10
    vk.reset_faults()
    vk.inject_delay("groups.getById", 0.3)
    started = time.monotonic()
    await client.ok("groups.getById")
    assert time.monotonic() - started >= 0.3
    vk.drop_connection("groups.getById")
    with pytest.raises(aiohttp.ClientError):
        await client.call("groups.getById")
    assert vk.calls("groups.getById")[-1].dropped


# ---- rate limits ---------------------------------------------------------------------------


async def test_rate_limit_error_6_and_violations(vk: VkEmulator, client: VkClient) -> None:
    vk.set_rate_limit(count=3, window=0.5)
    results = [await client.call("groups.getById") for _ in range(5)]
    codes = [r.get("error", {}).get("error_code") for r in results]
    assert codes == [None, None, None, 6, 6]
    assert results[3]["error"]["error_msg"] == "Too many requests per second"
    assert [(v.error_code, v.method) for v in vk.violations] == [(6, "groups.getById")] * 2
    await asyncio.sleep(0.55)
    assert await client.ok("groups.getById")
    vk.set_rate_limit(enabled=False)
    for _ in range(10):
        await client.ok("groups.getById")
    assert len(vk.violations) == 2


async def test_default_limit_is_20_per_second(vk: VkEmulator, client: VkClient) -> None:
    results = await asyncio.gather(*(client.call("groups.getById") for _ in range(25)))
    assert sum("error" in r for r in results) == 5
    assert len(vk.violations) == 5


async def test_get_long_poll_server_error_29(
    vk: VkEmulator, club: Community, client: VkClient
) -> None:
    vk.set_rate_limit(lp_server_count=2, lp_server_window=60)
    await client.lp_server(club.id)
    await client.lp_server(club.id)
    error = await client.error("groups.getLongPollServer", group_id=club.id)
    assert (error["error_code"], error["error_msg"]) == (29, "Rate limit reached")
    assert vk.violations[-1].error_code == 29


# ---- Bots Long Poll ------------------------------------------------------------------------


async def test_long_poll_delivers_message_new(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    server = await client.lp_server(club.id)
    assert server["server"] == f"{vk.base_url}/lp/{club.id}" and isinstance(server["ts"], str)
    poll = asyncio.create_task(client.a_check(server, wait=10))
    await asyncio.sleep(0.1)
    assert not poll.done()
    started = time.monotonic()
    sent = await vk.user_send(anna, club, "hello")
    answer = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1
    assert int(answer["ts"]) == int(server["ts"]) + 1
    (event,) = answer["updates"]
    assert event["type"] == "message_new" and event["group_id"] == club.id
    assert event["v"] == V and event["event_id"]
    message = event["object"]["message"]
    assert message["id"] == sent["id"] and message["text"] == "hello"
    assert message["from_id"] == message["peer_id"] == anna.id
    assert message["out"] == 0 and message["conversation_message_id"] == 1
    assert message["attachments"] == [] and message["fwd_messages"] == []
    info = event["object"]["client_info"]
    assert info["keyboard"] is True and "callback" in info["button_actions"]


async def test_long_poll_times_out_empty(club: Community, client: VkClient) -> None:
    server = await client.lp_server(club.id)
    started = time.monotonic()
    answer = await client.a_check(server, wait=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert answer == {"ts": server["ts"], "updates": []}


async def test_resume_from_ts_loses_nothing(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    server = await client.lp_server(club.id)
    for text in ("one", "two", "three"):
        await vk.user_send(anna, club, text)
    first = await client.a_check(server)
    assert [u["object"]["message"]["text"] for u in first["updates"]] == ["one", "two", "three"]
    # The answer got lost: asking with the same ts again yields the same events.
    again = await client.a_check(server)
    assert again == first
    await vk.user_send(anna, club, "four")
    rest = await client.a_check(server, ts=first["ts"])
    assert [u["object"]["message"]["text"] for u in rest["updates"]] == ["four"]


async def test_failed_1_when_ts_out_of_range(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    server = await client.lp_server(club.id)
    ahead = await client.a_check(server, ts=int(server["ts"]) + 50)
    assert ahead == {"failed": 1, "ts": int(server["ts"])}
    await vk.user_send(anna, club, "old")
    vk.trim_history(club)
    stale = await client.a_check(server)
    assert stale["failed"] == 1
    await vk.user_send(anna, club, "new")
    fresh = await client.a_check(server, ts=stale["ts"])
    assert [u["object"]["message"]["text"] for u in fresh["updates"]] == ["new"]


async def test_failed_2_key_expired_keeps_history(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    server = await client.lp_server(club.id)
    vk.expire_key(club)
    await vk.user_send(anna, club, "while expired")
    assert await client.a_check(server) == {"failed": 2}
    renewed = await client.lp_server(club.id)
    answer = await client.a_check(renewed, ts=server["ts"])
    assert [u["object"]["message"]["text"] for u in answer["updates"]] == ["while expired"]


async def test_failed_3_history_lost(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    server = await client.lp_server(club.id)
    await vk.user_send(anna, club, "lost")
    vk.lose_history(club)
    assert await client.a_check(server) == {"failed": 3}
    renewed = await client.lp_server(club.id)
    assert int(renewed["ts"]) > int(server["ts"])
    assert (await client.a_check(renewed))["updates"] == []
    await vk.user_send(anna, club, "after")
    answer = await client.a_check(renewed)
    assert [u["object"]["message"]["text"] for u in answer["updates"]] == ["after"]


async def test_key_expiring_during_a_wait(
    vk: VkEmulator, club: Community, client: VkClient
) -> None:
    server = await client.lp_server(club.id)
    poll = asyncio.create_task(client.a_check(server, wait=10))
    await asyncio.sleep(0.1)
    vk.expire_key(club)
    assert await asyncio.wait_for(poll, 2) == {"failed": 2}


async def test_long_poll_faults(vk: VkEmulator, club: Community, client: VkClient) -> None:
    server = await client.lp_server(club.id)
    vk.longpoll_fault("failed", 2)
    assert await client.a_check(server) == {"failed": 2}
    assert "updates" in await client.a_check(server)
    vk.longpoll_fault("status", 502)
    async with client.session.get(server["server"], params={"act": "a_check"}) as resp:
        assert resp.status == 502
    # aiohttp retries a GET once when a reused connection dies: drop twice.
    vk.drop_connection("longpoll", times=2)
    with pytest.raises(aiohttp.ClientError):
        await client.a_check(server)
    vk.longpoll_fault("hang")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.a_check(server, wait=0), 0.3)
    with pytest.raises(ControlError):
        vk.longpoll_fault("failed")
    lp_calls = vk.calls("longpoll")
    assert [c.ok for c in lp_calls[:5]] == [True, True, False, False, False]
    assert lp_calls[3].dropped and lp_calls[2].error_code == 502


# ---- messages.send -------------------------------------------------------------------------


async def test_send_creates_message_reply_and_stores_it(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    incoming = await vk.user_send(anna, club, "question")
    server = await client.lp_server(club.id)
    message_id = await client.ok(
        "messages.send", peer_id=anna.id, message="answer", random_id=77, reply_to=incoming["id"]
    )
    answer = await client.a_check(server)
    (event,) = answer["updates"]
    assert event["type"] == "message_reply"
    reply = event["object"]
    assert reply["id"] == message_id and reply["from_id"] == -club.id and reply["out"] == 1
    assert reply["random_id"] == 77 and "admin_author_id" not in reply
    assert reply["reply_message"]["text"] == "question"
    history = vk.messages(club, anna.id)
    assert [(m["from_id"], m["text"]) for m in history] == [
        (anna.id, "question"),
        (-club.id, "answer"),
    ]
    assert [m["conversation_message_id"] for m in history] == [1, 2]
    got = await client.ok("messages.getById", message_ids=message_id)
    assert got["items"][0]["text"] == "answer"


async def test_random_id_idempotency(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    await vk.user_send(anna, club, "hi")
    first = await client.ok("messages.send", peer_id=anna.id, message="once", random_id=5)
    second = await client.ok("messages.send", peer_id=anna.id, message="once", random_id=5)
    assert first == second
    other = await client.ok("messages.send", peer_id=anna.id, message="twice", random_id=6)
    assert other != first
    assert [m["text"] for m in vk.messages(club, anna.id)] == ["hi", "once", "twice"]
    assert len(vk.events(club, "message_reply")) == 2


async def test_dropped_answer_after_send_then_retry_sends_once(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    await vk.user_send(anna, club, "hi")
    vk.drop_connection("messages.send", after=True)
    with pytest.raises(aiohttp.ClientError):
        await client.call("messages.send", peer_id=anna.id, message="reply", random_id=42)
    assert [m["text"] for m in vk.messages(club, anna.id)] == ["hi", "reply"]
    message_id = await client.ok("messages.send", peer_id=anna.id, message="reply", random_id=42)
    assert message_id == vk.messages(club, anna.id)[1]["id"]
    assert [m["text"] for m in vk.messages(club, anna.id)] == ["hi", "reply"]
    # A drop before the action sends nothing.
    vk.drop_connection("messages.send")
    with pytest.raises(aiohttp.ClientError):
        await client.call("messages.send", peer_id=anna.id, message="lost", random_id=43)
    assert len(vk.messages(club, anna.id)) == 2


async def test_permissions_901_900_902(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    error = await client.error("messages.send", peer_id=anna.id, message="x", random_id=1)
    assert error["error_code"] == 901
    assert error["error_msg"] == "Can't send messages for users without permission"
    server = await client.lp_server(club.id)
    vk.user_allow(anna, club)
    await client.ok("messages.send", peer_id=anna.id, message="welcome", random_id=2)
    vk.user_deny(anna, club)
    error = await client.error("messages.send", peer_id=anna.id, message="x", random_id=3)
    assert error["error_code"] == 901
    types = [
        (u["type"], u["object"].get("user_id")) for u in (await client.a_check(server))["updates"]
    ]
    assert types == [
        ("message_allow", anna.id),
        ("message_reply", None),
        ("message_deny", anna.id),
    ]
    await vk.user_send(anna, club, "me again")  # writing grants permission again
    await client.ok("messages.send", peer_id=anna.id, message="ok", random_id=4)
    vk.set_privacy(anna)
    assert (await client.error("messages.send", peer_id=anna.id, message="x", random_id=5))[
        "error_code"
    ] == 902
    vk.set_blacklisted(anna, club)
    assert (await client.error("messages.send", peer_id=anna.id, message="x", random_id=6))[
        "error_code"
    ] == 900
    conv = await client.ok("messages.getConversationsById", peer_ids=anna.id)
    assert conv["items"][0]["can_write"] == {"allowed": False, "reason": 900}
    assert (await client.error("messages.send", peer_id=12345, message="x", random_id=7))[
        "error_code"
    ] == 100


async def test_keyboard_validation_911(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    await vk.user_send(anna, club, "hi")
    rid = iter(range(100, 200))

    async def send(board: str) -> dict[str, Any]:
        return await client.call(
            "messages.send", peer_id=anna.id, message="k", random_id=next(rid), keyboard=board
        )

    assert "response" in await send(keyboard(8, 5))  # 40 buttons
    assert "response" in await send(keyboard(2, 5, inline=True))  # 10 inline
    assert "response" in await send(json.dumps({"buttons": [], "one_time": True}))
    bad = [
        keyboard(9, 5),  # 45 buttons
        keyboard(1, 6),  # 6 in a row
        keyboard(11, 1),  # 11 rows
        keyboard(3, 4, inline=True),  # 12 inline
        "{not json",
        json.dumps({"buttons": [[{"action": {"type": "teleport", "label": "x"}}]]}),
        json.dumps({"buttons": [[{"action": {"type": "text", "label": ""}}]]}),
    ]
    for board in bad:
        body = await send(board)
        assert body["error"]["error_code"] == 911, board
        assert body["error"]["error_msg"].startswith("Keyboard format is invalid")
    assert len(vk.messages(club, anna.id)) == 4
    stored = vk.messages(club, anna.id)[2]["keyboard"]
    assert stored["inline"] is True and len(stored["buttons"]) == 2
    club.bot_capabilities = False
    body = await send(keyboard(1, 1, kind="callback"))
    assert body["error"]["error_code"] == 912


async def test_text_limit_914(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    await vk.user_send(anna, club, "hi")
    await client.ok("messages.send", peer_id=anna.id, message="a" * 4096, random_id=1)
    error = await client.error("messages.send", peer_id=anna.id, message="a" * 4097, random_id=2)
    assert (error["error_code"], error["error_msg"]) == (914, "Message is too long")
    vk.options.text_limit = 9000
    await client.ok("messages.send", peer_id=anna.id, message="a" * 9000, random_id=3)
    assert (await client.error("messages.send", peer_id=anna.id, message="", random_id=4))[
        "error_code"
    ] == 100


async def test_edit_delete_and_user_edit(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    incoming = await vk.user_send(anna, club, "typo")
    mid = await client.ok("messages.send", peer_id=anna.id, message="draft", random_id=1)
    server = await client.lp_server(club.id)
    assert await client.ok("messages.edit", peer_id=anna.id, message_id=mid, message="final") == 1
    assert (
        await client.error(
            "messages.edit", peer_id=anna.id, message_id=incoming["id"], message="x"
        )
    )["error_code"] == 920
    await vk.user_edit(anna, club, incoming["id"], "fixed")
    updates = (await client.a_check(server))["updates"]
    assert [(u["type"], u["object"]["text"]) for u in updates] == [
        ("message_edit", "final"),
        ("message_edit", "fixed"),
    ]
    assert updates[1]["object"]["id"] == incoming["id"] and "update_time" in updates[1]["object"]
    assert await client.ok("messages.delete", message_ids=mid, delete_for_all=1) == {str(mid): 1}
    assert [m["text"] for m in vk.messages(club, anna.id)] == ["fixed"]


# ---- uploads and attachments ---------------------------------------------------------------


async def test_photo_upload_round_trip(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    await vk.user_send(anna, club, "send me a photo")
    image = png(300, 200)
    target = await client.ok("photos.getMessagesUploadServer", peer_id=anna.id)
    assert target["upload_url"].startswith(f"{vk.base_url}/upload/")
    uploaded = await client.upload(target["upload_url"], "photo", image, "pic.png")
    assert set(uploaded) == {"server", "photo", "hash"} and isinstance(uploaded["photo"], str)
    (saved,) = await client.ok("photos.saveMessagesPhoto", **uploaded)
    assert saved["owner_id"] == -club.id and saved["access_key"]
    assert max(s["width"] for s in saved["sizes"]) == 300
    attachment = f"photo{saved['owner_id']}_{saved['id']}_{saved['access_key']}"
    await client.ok("messages.send", peer_id=anna.id, random_id=1, attachment=attachment)
    sent = vk.messages(club, anna.id)[-1]
    assert sent["text"] == "" and sent["attachments"][0]["type"] == "photo"
    assert vk.file_bytes(sent["attachments"][0]) == image
    assert vk.file_bytes(f"photo{saved['owner_id']}_{saved['id']}") == image
    async with client.session.get(sent["attachments"][0]["photo"]["sizes"][-1]["url"]) as resp:
        assert await resp.read() == image
    # Saving the same upload twice, or an upload of something that is not an image, fails.
    assert (await client.error("photos.saveMessagesPhoto", **uploaded))["error_code"] == 100
    junk = await client.upload(target["upload_url"], "photo", b"not an image", "x.png")
    assert junk["photo"] == "[]"
    assert (await client.error("photos.saveMessagesPhoto", **junk))["error_code"] == 100


async def test_doc_and_voice_upload_round_trip(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    await vk.user_send(anna, club, "hi")
    payload = b"%PDF-1.4 invoice" + bytes(range(256))
    target = await client.ok("docs.getMessagesUploadServer", type="doc", peer_id=anna.id)
    uploaded = await client.upload(target["upload_url"], "file", payload, "invoice.pdf")
    saved = await client.ok("docs.save", file=uploaded["file"], title="invoice.pdf")
    assert saved["type"] == "doc" and saved["doc"]["ext"] == "pdf"
    assert saved["doc"]["size"] == len(payload)
    doc = saved["doc"]
    await client.ok(
        "messages.send",
        peer_id=anna.id,
        random_id=1,
        message="your invoice",
        attachment=f"doc{doc['owner_id']}_{doc['id']}",
    )
    assert vk.file_bytes(vk.messages(club, anna.id)[-1]["attachments"][0]) == payload
    voice = b"OggS" + b"\x01" * 100
    target = await client.ok("docs.getMessagesUploadServer", type="audio_message", peer_id=anna.id)
    uploaded = await client.upload(target["upload_url"], "file", voice, "voice.ogg")
    saved = await client.ok("docs.save", file=uploaded["file"])
    assert saved["type"] == "audio_message" and saved["audio_message"]["link_ogg"]
    assert vk.file_bytes(saved["audio_message"]["link_mp3"]) == voice
    missing = await client.upload(target["upload_url"], "photo", voice, "wrong-field.ogg")
    assert "file" not in missing and missing["error"]


async def test_invalid_attachments_are_error_100(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    customer = await vk.user_send(anna, club, "look", attachments=["photo"])
    photo = customer["attachments"][0]["photo"]
    for bad in (
        "photo1_2",
        "video-1_2",
        "garbage",
        f"photo{photo['owner_id']}_{photo['id']}",
        f"photo{photo['owner_id']}_{photo['id']}_wrongkey",
    ):
        error = await client.error("messages.send", peer_id=anna.id, random_id=1, attachment=bad)
        assert error["error_code"] == 100, bad
    # Another owner's photo goes through with its access key.
    good = f"photo{photo['owner_id']}_{photo['id']}_{photo['access_key']}"
    await client.ok("messages.send", peer_id=anna.id, random_id=2, attachment=good)


async def test_customer_attachment_kinds(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    server = await client.lp_server(club.id)
    picture = png(10, 10)
    first = await vk.user_send(anna, club, "first")
    await vk.user_send(
        anna,
        club,
        "all kinds",
        attachments=[
            {"type": "photo", "data": picture},
            "doc",
            "sticker",
            "audio_message",
            "wall",
            {"type": "link", "url": "https://vk.com/"},
        ],
        reply_to=first["id"],
        fwd=[{"from_id": 7, "text": "forwarded"}],
    )
    message = (await client.a_check(server))["updates"][1]["object"]["message"]
    kinds = [a["type"] for a in message["attachments"]]
    assert kinds == ["photo", "doc", "sticker", "audio_message", "wall", "link"]
    photo, doc, sticker, voice = (message["attachments"][i][k] for i, k in enumerate(kinds[:4]))
    assert {s["type"] for s in photo["sizes"]} >= {"s", "m"}
    async with client.session.get(photo["sizes"][-1]["url"]) as resp:
        assert await resp.read() == picture
    assert doc["url"] and doc["title"] and sticker["images"][0]["url"]
    assert voice["link_mp3"] and voice["link_ogg"] and voice["duration"] > 0
    assert message["reply_message"]["text"] == "first"
    assert message["fwd_messages"][0]["text"] == "forwarded"
    with pytest.raises(ControlError):
        await vk.user_send(anna, club, "x", attachments=["hologram"])


# ---- community admins and buttons ----------------------------------------------------------


async def test_admin_reply_in_web_inbox(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    with pytest.raises(ControlError):
        await vk.admin_reply(club, anna.id, "nobody wrote")
    await vk.user_send(anna, club, "help")
    server = await client.lp_server(club.id)
    await vk.admin_reply(club, anna.id, "an admin here", admin_id=club.admin_id)
    (event,) = (await client.a_check(server))["updates"]
    assert event["type"] == "message_reply"
    reply = event["object"]
    assert reply["from_id"] == -club.id and reply["admin_author_id"] == club.admin_id
    assert reply["out"] == 1 and reply["text"] == "an admin here" and reply["random_id"] == 0
    assert vk.messages(club, anna.id)[-1]["text"] == "an admin here"


async def test_callback_button_and_event_answer(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    await vk.user_send(anna, club, "hi")
    server = await client.lp_server(club.id)
    pressed = await vk.user_press_button(anna, club, {"rate": 5})
    (event,) = (await client.a_check(server))["updates"]
    assert event["type"] == "message_event"
    assert event["object"]["payload"] == {"rate": 5} and event["object"]["user_id"] == anna.id
    assert vk.event_answer(club, pressed["event_id"]) is None
    snackbar = json.dumps({"type": "show_snackbar", "text": "Thanks!"})
    error = await client.error(
        "messages.sendMessageEventAnswer",
        event_id=pressed["event_id"],
        user_id=anna.id + 1,
        peer_id=anna.id,
        event_data=snackbar,
    )
    assert error["error_code"] == 100
    assert (
        await client.ok(
            "messages.sendMessageEventAnswer",
            event_id=pressed["event_id"],
            user_id=anna.id,
            peer_id=anna.id,
            event_data=snackbar,
        )
        == 1
    )
    assert vk.event_answer(club, pressed["event_id"]) == {
        "type": "show_snackbar",
        "text": "Thanks!",
    }


# ---- waiting, HTTP control API, command line ------------------------------------------------


async def test_wait_for_wakes_on_change(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    await vk.user_send(anna, club, "hi")

    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.ok("messages.send", peer_id=anna.id, message="late", random_id=1)

    task = asyncio.create_task(later())
    found = await vk.wait_for(lambda: [m for m in vk.messages(club, anna.id) if m["out"]], 2)
    assert found[0]["text"] == "late"
    await task
    with pytest.raises(TimeoutError, match="messages.send"):
        await vk.wait_for(lambda: False, 0.1, "never")


async def test_http_control_mirror(vk: VkEmulator, club: Community, client: VkClient) -> None:
    base = f"{vk.base_url}/_control"
    async with client.session.post(f"{base}/add_user", json={"first_name": "Ivan"}) as resp:
        ivan = (await resp.json())["result"]
    body = {
        "user_id": ivan["id"],
        "group_id": club.id,
        "text": "via http",
        "attachments": [{"type": "photo", "data_base64": "iVBORw0KGgo="}],
    }
    async with client.session.post(f"{base}/user_send", json=body) as resp:
        assert (await resp.json())["ok"] is True
    async with client.session.post(f"{base}/rate_limit", json={"count": 1}) as resp:
        assert (await resp.json())["ok"] is True
    await client.call("groups.getById")
    await client.call("groups.getById")
    query = {"group_id": str(club.id), "peer_id": str(ivan["id"])}
    async with client.session.get(f"{base}/messages", params=query) as resp:
        messages = (await resp.json())["result"]
    assert messages[0]["text"] == "via http"
    async with client.session.get(f"{base}/violations") as resp:
        assert len((await resp.json())["result"]) == 1
    async with client.session.post(f"{base}/no_such_action", json={}) as resp:
        assert resp.status == 404
    async with client.session.post(f"{base}/user_send", json={"text": "x"}) as resp:
        assert resp.status == 400 and "user_id" in (await resp.json())["error"]


async def test_command_line_entry_point() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.vk",
        "--port",
        "0",
        "--token",
        "tok123",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != "}":
            lines.append((await asyncio.wait_for(proc.stdout.readline(), 10)).decode().rstrip())
        info = json.loads("\n".join(lines))
        assert info["token"] == "tok123" and info["customer_id"] > 0
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{info['base_url']}/method/users.get",
                params={"access_token": "tok123", "v": V, "user_ids": info["customer_id"]},
            ) as resp,
        ):
            users = (await resp.json())["response"]
        assert users[0]["first_name"] == "Anna" and info["group_id"] > 0
    finally:
        proc.terminate()
        await proc.communicate()


async def test_conversations_and_history_read_the_mailbox(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    bob = vk.add_user("Bob", "Petrov")
    for n in range(3):
        await vk.user_send(anna, club, f"anna {n}")
    await vk.user_send(bob, club, "bob 0")
    await vk.admin_reply(club, anna.id, "admin answer")
    convs = await client.ok("messages.getConversations", count=200)
    assert convs["count"] == 2
    assert [i["conversation"]["peer"]["id"] for i in convs["items"]] == [anna.id, bob.id]
    assert convs["items"][0]["last_message"]["text"] == "admin answer"
    history = await client.ok("messages.getHistory", peer_id=anna.id, count=2)
    assert history["count"] == 4
    assert [m["text"] for m in history["items"]] == ["admin answer", "anna 2"]
    oldest = await client.ok("messages.getHistory", peer_id=anna.id, rev=1, count=1)
    assert oldest["items"][0]["text"] == "anna 0"
    error = await client.error("messages.getHistory", peer_id=anna.id, count=500)
    assert error["error_code"] == 100


async def test_admin_edit_and_admin_id_on_api_sends(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    await vk.user_send(anna, club, "help")
    answer = await vk.admin_reply(club, anna.id, "at 9")
    server = await client.lp_server(club.id)
    await vk.admin_edit(club, answer["id"], "at 10")
    (event,) = (await client.a_check(server))["updates"]
    assert event["type"] == "message_edit" and event["object"]["text"] == "at 10"
    with pytest.raises(ControlError):
        await vk.admin_edit(club, 9999, "nothing")
    vk.options.admin_author_on_api_sends = True
    sent = await client.ok("messages.send", peer_id=anna.id, message="api", random_id=7)
    assert vk.message(club, sent)["admin_author_id"] == club.admin_id


async def test_a_failed_answer_can_come_late(
    vk: VkEmulator, club: Community, client: VkClient, anna: UserRecord
) -> None:
    server = await client.lp_server(club.id)
    vk.longpoll_fault("failed", 1, after=0.2)
    check = asyncio.create_task(client.a_check(server))
    await asyncio.sleep(0.05)
    await vk.user_send(anna, club, "written while the answer was on its way")
    answer = await check
    assert answer["failed"] == 1 and int(answer["ts"]) == int(server["ts"]) + 1

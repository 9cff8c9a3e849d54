"""The MAX adapter's transport, uploads and channel against the MAX emulator (no database):
auth, markers, the 30 rps budget, retries, outcomes, splitting, keyboards, uploads."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.max.buttons import keyboard
from adapters.max.channel import MaxChannel, MaxFiles
from adapters.max.errors import MaxApiError, to_outcome
from adapters.max.transport import MaxApi, bot_rate_key, split_text
from adapters.max.uploads import upload
from core.errors import PermanentError, RecipientUnreachable, RetryAfter, TransientError
from core.files import Files
from core.model import Choice
from sandbox.max import BotRecord, MaxEmulator


@pytest.fixture
async def emu() -> AsyncIterator[MaxEmulator]:
    emulator = MaxEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
def bot(emu: MaxEmulator) -> BotRecord:
    return emu.add_bot("Support", "max-Transport-Test-Token-0123456789")


@pytest.fixture
async def api(emu: MaxEmulator, bot: BotRecord) -> AsyncIterator[MaxApi]:
    async with aiohttp.ClientSession() as session:
        yield MaxApi(session, bot.token, emu.base_url, backoff_base=0.01, backoff_max=0.05)


async def test_only_the_raw_token_header_is_accepted(emu: MaxEmulator, bot: BotRecord,
                                                     api: MaxApi) -> None:
    me = await api.request("GET", "/me")
    assert me["user_id"] == bot.user.user_id and me["is_bot"]
    async with aiohttp.ClientSession() as session:
        for headers, query in (({"Authorization": f"Bearer {bot.token}"}, {}),
                               ({}, {"access_token": bot.token})):
            async with session.get(f"{emu.base_url}/me", headers=headers,
                                   params=query) as resp:
                assert resp.status == 401
                assert await resp.json() == {"code": "verify.token",
                                             "message": "Invalid access_token"}


async def test_without_a_marker_only_the_latest_update_comes(emu: MaxEmulator,
                                                             api: MaxApi) -> None:
    anna = emu.add_user("Anna")
    for text in ("one", "two", "three"):
        emu.user_send(anna, text)
    latest = await api.request("GET", "/updates", {"timeout": 0})
    assert [u["message"]["body"]["text"] for u in latest["updates"]] == ["three"]
    head = emu.bot.updates[0][0]
    first = await api.request("GET", "/updates", {"timeout": 0, "marker": head, "limit": 2})
    assert [u["message"]["body"]["text"] for u in first["updates"]] == ["one", "two"]
    assert first["marker"] > 2**53  # int64 markers survive (no float on the way)
    rest = await api.request("GET", "/updates", {"timeout": 0, "marker": first["marker"]})
    assert [u["message"]["body"]["text"] for u in rest["updates"]] == ["three"]
    again = await api.request("GET", "/updates", {"timeout": 0, "marker": first["marker"]})
    assert [u["message"]["body"]["text"] for u in again["updates"]] == ["three"]


async def test_every_request_is_paced_under_the_bot_budget(emu: MaxEmulator,
                                                           bot: BotRecord) -> None:
    emu.set_rate_limit(True, count=5, window=0.2)
    async with aiohttp.ClientSession() as session:
        api = MaxApi(session, bot.token, emu.base_url, rate=bot_rate_key(bot.token, 5, 0.2))
        await asyncio.gather(*(api.request("GET", "/me") for _ in range(25)))
    assert len(emu.calls("GET /me", ok=True)) == 25
    assert emu.violations == []


async def test_a_429_is_waited_out_even_for_a_send(emu: MaxEmulator, api: MaxApi) -> None:
    anna = emu.add_user("Anna")
    emu.inject_error("POST /messages", 429, "too.many.requests", times=2)
    answer = await api.request("POST", "/messages", {"user_id": anna.user_id},
                               {"text": "hi"})
    assert answer["message"]["body"]["text"] == "hi"
    assert [r.status for r in emu.calls("POST /messages")] == [429, 429, 200]
    assert len(emu.sent_to(anna)) == 1


async def test_a_send_with_a_lost_answer_is_not_repeated_by_the_transport(
    emu: MaxEmulator, api: MaxApi
) -> None:
    anna = emu.add_user("Anna")
    emu.drop_connection("POST /messages", after=True)
    with pytest.raises(Exception, match="POST /messages"):
        await api.request("POST", "/messages", {"user_id": anna.user_id}, {"text": "hi"})
    assert len(emu.sent_to(anna)) == 1  # the outbox decides; no hidden second copy


def test_errors_become_core_outcomes() -> None:
    def outcome(status: int, code: str) -> object:
        return to_outcome(MaxApiError(status, code, "m"), "max:bot:x")

    assert isinstance(outcome(403, "chat.denied"), RecipientUnreachable)
    assert isinstance(outcome(404, "chat.not.found"), RecipientUnreachable)
    assert isinstance(outcome(400, "proto.payload"), PermanentError)
    assert isinstance(outcome(400, "attachment.not.ready"), TransientError)
    assert isinstance(outcome(401, "verify.token"), TransientError)
    assert isinstance(outcome(503, "internal.error"), TransientError)
    pause = outcome(429, "too.many.requests")
    assert isinstance(pause, RetryAfter) and pause.bucket == "max:bot:x"


@pytest.mark.parametrize("text", ["a" * 9000, ("<&> " * 3000), "word " * 2000,
                                  "🙂" * 4500, "x\n" * 3000])
def test_split_text_keeps_every_character_and_fits_once_escaped(text: str) -> None:
    parts = split_text(text, 4000)
    assert "".join(parts).rstrip() == text.rstrip()
    assert all(len(html.escape(p, quote=False)) <= 4000 for p in parts)


async def test_a_5000_character_bot_text_and_a_keyboard_within_limits(
    emu: MaxEmulator, api: MaxApi
) -> None:
    anna = emu.add_user("Anna")
    channel = MaxChannel(api, Files())
    text = "Our terms: " + "read carefully & agree. " * 210
    assert len(text) > 5000
    row = [Choice(f"option {n}" + "!" * 130, f"menu:{n}") for n in range(10)]
    await channel.send_text(str(anna.user_id), html.escape(text), choices=[row])
    sent = emu.sent_to(anna)
    assert len(sent) == 2
    assert "".join(m["body"]["text"] for m in sent) == text
    [board] = sent[-1]["body"]["attachments"]
    rows = board["payload"]["buttons"]
    assert [len(r) for r in rows] == [7, 3]
    assert all(len(b["text"]) == 128 and b["type"] == "callback" for r in rows for b in r)
    assert keyboard([]) is None


async def test_edits_leave_files_and_buttons_alone(emu: MaxEmulator, api: MaxApi) -> None:
    anna = emu.add_user("Anna")
    channel = MaxChannel(api, Files())
    mid = await channel.send_text(str(anna.user_id), "pick one",
                                  choices=[[Choice("yes", "x:yes")]])
    await api.request("PUT", "/messages", {"message_id": mid}, {"text": "pick one, please"})
    message = emu.message(mid)
    assert message["body"]["text"] == "pick one, please"
    assert message["body"]["attachments"][0]["type"] == "inline_keyboard"
    await api.request("PUT", "/messages", {"message_id": mid}, {"attachments": []})
    assert emu.message(mid)["body"]["attachments"] == []  # [] drops them, keyboard too


async def test_audio_and_video_take_the_token_of_their_slot(emu: MaxEmulator,
                                                            api: MaxApi) -> None:
    anna = emu.add_user("Anna")
    for kind, shown in (("voice", "audio"), ("video", "video"), ("document", "file"),
                        ("photo", "image")):
        attachment = await upload(api, kind, f"{kind} bytes".encode(), f"{kind}.bin")
        assert attachment["type"] == shown
        answer = await api.request("POST", "/messages", {"user_id": anna.user_id},
                                   {"attachments": [attachment]})
        [got] = answer["message"]["body"]["attachments"]
        assert emu.file_bytes(got["payload"]["url"]) == f"{kind} bytes".encode()
    fetched = await MaxFiles(api).fetch(got["payload"]["url"])
    assert fetched == b"photo bytes"


async def test_a_file_must_be_the_only_attachment(emu: MaxEmulator, api: MaxApi) -> None:
    anna = emu.add_user("Anna")
    files = [await upload(api, "document", b"1", "a.txt"),
             await upload(api, "document", b"2", "b.txt")]
    with pytest.raises(MaxApiError) as refused:
        await api.request("POST", "/messages", {"user_id": anna.user_id},
                          {"attachments": files})
    assert refused.value.status == 400 and "only one file" in refused.value.message

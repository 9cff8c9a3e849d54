"""The VK transport (adapters/vk) against the VK emulator: call shapes and error outcomes,
the 20 requests/s budget, idempotent sends after lost answers, split texts, Bots Long Poll
under faults, and uploads."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.vk import (
    VkApi,
    VkApiError,
    VkLongPoll,
    VkNetworkError,
    VkUploadError,
    random_id_for,
    split_text,
    to_outcome,
    upload_doc,
    upload_photo,
)
from adapters.vk.transport import MAX_PARTS, part_random_id
from core.errors import PermanentError, RecipientUnreachable, RetryAfter, TransientError
from sandbox.vk import Community, UserRecord, VkEmulator

# ---- fixtures ----------------------------------------------------------------------------


@pytest.fixture
async def emu() -> AsyncIterator[VkEmulator]:
    emulator = VkEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
def club(emu: VkEmulator) -> Community:
    return emu.add_community(name="Support")


@pytest.fixture
def anna(emu: VkEmulator) -> UserRecord:
    return emu.add_user("Anna", "Smirnova", screen_name="anna_s")


def make_api(emu: VkEmulator, token: str, **kwargs: Any) -> VkApi:
    options: dict[str, Any] = {"backoff_base": 0.02, "backoff_max": 0.1, "timeout": 5.0}
    options.update(kwargs)
    return VkApi(None, token, api_server=emu.base_url, **options)


@pytest.fixture
async def api(emu: VkEmulator, club: Community) -> AsyncIterator[VkApi]:
    client = make_api(emu, club.token)
    try:
        yield client
    finally:
        await client.close()


def community_texts(emu: VkEmulator, club: Community, peer_id: int) -> list[str]:
    return [m["text"] for m in emu.messages(club, peer_id) if m["from_id"] == -club.id]


def png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ---- method calls ------------------------------------------------------------------------


async def test_call_posts_form_with_token_and_version(
    emu: VkEmulator, api: VkApi, anna: UserRecord
) -> None:
    users = await api.call("users.get", user_ids=[anna.id], fields=["screen_name", "sex"],
                           name_case=None)
    assert users[0]["first_name"] == "Anna"
    assert users[0]["screen_name"] == "anna_s"
    record = emu.calls("users.get")[-1]
    assert record.ok
    assert record.params == {"user_ids": str(anna.id), "fields": "screen_name,sex",
                             "v": "5.199"}  # None omitted; the token was accepted, not logged


async def test_bad_token_is_raised_once_and_kept_queued(emu: VkEmulator, club: Community) -> None:
    bad = make_api(emu, "vk1.a.not-a-token")
    try:
        with pytest.raises(VkApiError) as caught:
            await bad.call("users.get", user_ids=1)
    finally:
        await bad.close()
    assert caught.value.code == 5
    assert caught.value.method == "users.get"
    assert len(emu.calls("users.get")) == 1  # not retried
    assert isinstance(to_outcome(caught.value, "b"), TransientError)


async def test_bad_parameter_is_permanent(emu: VkEmulator, api: VkApi, anna: UserRecord,
                                          club: Community) -> None:
    await emu.user_send(anna, club, "hi")
    with pytest.raises(VkApiError) as caught:
        await api.call("messages.send", peer_id=anna.id, random_id=5)  # no text
    assert caught.value.code == 100
    assert isinstance(to_outcome(caught.value), PermanentError)


async def test_denied_messages_make_the_recipient_unreachable(
    emu: VkEmulator, api: VkApi, club: Community, anna: UserRecord
) -> None:
    await emu.user_send(anna, club, "hi")
    emu.user_deny(anna, club)
    with pytest.raises(VkApiError) as caught:
        await api.messages_send(anna.id, "hello", random_id=random_id_for(1))
    assert caught.value.code == 901
    assert len(emu.calls("messages.send")) == 1  # a refusal is not retried
    assert isinstance(to_outcome(caught.value), RecipientUnreachable)


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (6, RetryAfter), (9, RetryAfter), (29, RetryAfter),
        (900, RecipientUnreachable), (901, RecipientUnreachable), (902, RecipientUnreachable),
        (100, PermanentError), (911, PermanentError), (914, PermanentError),
        (5, TransientError), (10, TransientError), (1, TransientError), (12345, TransientError),
    ],
)
def test_error_codes_map_to_core_outcomes(code: int, outcome: type[Exception]) -> None:
    result = to_outcome(VkApiError(code, "x", "messages.send"), "vk:token:1")
    assert type(result) is outcome
    if isinstance(result, RetryAfter):
        assert result.seconds > 0
        assert result.bucket == "vk:token:1"


def test_network_failures_and_uploads_map_to_outcomes() -> None:
    assert isinstance(to_outcome(VkNetworkError("messages.send", "cut")), TransientError)
    assert isinstance(to_outcome(TimeoutError()), TransientError)
    assert isinstance(to_outcome(VkUploadError("not an image")), PermanentError)


async def test_error_6_is_backed_off_and_retried_for_reads(emu: VkEmulator, api: VkApi,
                                                           anna: UserRecord) -> None:
    emu.inject_fault("users.get", 6, times=2)
    users = await api.call("users.get", user_ids=anna.id)
    assert users[0]["id"] == anna.id
    assert [r.error_code for r in emu.calls("users.get")] == [6, 6, None]


async def test_error_6_is_raised_for_non_idempotent_methods(emu: VkEmulator,
                                                             api: VkApi) -> None:
    emu.inject_fault("messages.edit", 6)
    with pytest.raises(VkApiError) as caught:
        await api.call("messages.edit", peer_id=1, message_id=1, message="x")
    assert caught.value.code == 6
    assert len(emu.calls("messages.edit")) == 1


async def test_internal_errors_and_cut_connections_are_retried_bounded(
    emu: VkEmulator, api: VkApi, club: Community, anna: UserRecord
) -> None:
    await emu.user_send(anna, club, "hi")
    emu.inject_fault("messages.send", 10)
    emu.drop_connection("messages.send")
    await api.messages_send(anna.id, "one", random_id=random_id_for(3))
    assert community_texts(emu, club, anna.id) == ["one"]

    emu.drop_connection("users.get", times=None)
    with pytest.raises(VkNetworkError) as caught:
        await api.call("users.get", user_ids=anna.id)
    assert len(emu.calls("users.get")) == api.retries + 1
    assert isinstance(to_outcome(caught.value), TransientError)


async def test_every_request_has_a_timeout(emu: VkEmulator, club: Community,
                                           anna: UserRecord) -> None:
    api = make_api(emu, club.token, timeout=0.3)
    try:
        emu.inject_delay("users.get", 2.0)
        started = time.monotonic()
        users = await api.call("users.get", user_ids=anna.id)
        assert users[0]["id"] == anna.id
        assert time.monotonic() - started < 1.5
    finally:
        await api.close()


async def test_twenty_requests_per_second_are_never_exceeded(
    emu: VkEmulator, api: VkApi, anna: UserRecord
) -> None:
    emu.set_rate_limit(True, 20, 1.0)
    started = time.monotonic()
    answers = await asyncio.gather(*(api.call("users.get", user_ids=anna.id)
                                     for _ in range(60)))
    elapsed = time.monotonic() - started
    assert len(answers) == 60
    assert emu.violations == []
    assert all(r.ok for r in emu.calls("users.get"))
    assert elapsed >= 1.5  # 60 calls at 20/s: paced, not burst


# ---- messages.send ----------------------------------------------------------------------


def test_random_ids_are_deterministic_nonzero_and_in_range() -> None:
    values = {random_id_for(d, p) for d in (0, 1, 2, 10**6, 2**40) for p in (0, 1, 63)}
    assert len(values) == 15
    assert all(1 <= v <= 2**31 - 1 for v in values)
    assert random_id_for(42, 3) == random_id_for(42, 3)
    assert part_random_id(random_id_for(42), 5) == random_id_for(42, 5)
    assert random_id_for(42, MAX_PARTS - 1) != random_id_for(43, 0)
    with pytest.raises(ValueError):
        random_id_for(1, MAX_PARTS)


async def test_a_lost_answer_never_doubles_a_message(
    emu: VkEmulator, api: VkApi, club: Community, anna: UserRecord
) -> None:
    await emu.user_send(anna, club, "hi")
    emu.drop_connection("messages.send", after=True)
    message_id = await api.messages_send(anna.id, "answer", random_id=random_id_for(11))
    sent = [m for m in emu.messages(club, anna.id) if m["from_id"] == -club.id]
    assert [m["text"] for m in sent] == ["answer"]
    assert sent[0]["id"] == message_id
    assert len(emu.calls("messages.send")) == 2  # the lost one and its retry


def test_split_text_keeps_the_text_and_the_limit() -> None:
    text = " ".join(f"word{i}" for i in range(3000)) + "\n" + "😀" * 3000
    parts = split_text(text, 4096)
    assert "".join(parts) == text
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert parts[0].endswith(" ")  # cut at a word boundary
    assert split_text("short") == ["short"]
    assert split_text("") == [""]
    assert split_text("a" * 10 + "   ", 10) == ["a" * 10]  # a whitespace tail is dropped


async def test_long_text_goes_in_parts_each_exactly_once(
    emu: VkEmulator, api: VkApi, club: Community, anna: UserRecord
) -> None:
    await emu.user_send(anna, club, "hi")
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(200))  # ~11.6k characters
    emu.drop_connection("messages.send", after=True)  # part 0's answer is lost
    first = await api.messages_send_parts(anna.id, text, random_id=random_id_for(21),
                                          keyboard={"buttons": [], "one_time": True})
    again = await api.messages_send_parts(anna.id, text, random_id=random_id_for(21))
    texts = community_texts(emu, club, anna.id)
    assert len(texts) == 3
    assert first == again  # the repeat answered the first messages' ids
    assert "".join(texts) == text
    assert all(len(t) <= 4096 for t in texts)


async def test_random_id_zero_is_refused(api: VkApi) -> None:
    with pytest.raises(ValueError):
        await api.messages_send(1, "x", random_id=0)


# ---- Bots Long Poll ----------------------------------------------------------------------


class Inbox:
    """Collects message_new texts per user as the handler sees them."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail_next = 0

    async def handle(self, events: list[dict[str, Any]]) -> None:
        self.batches.append(events)
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("the database is down")

    def texts(self) -> list[str]:
        return [e["object"]["message"]["text"] for batch in self.batches for e in batch
                if e["type"] == "message_new"]

    def by_user(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for batch in self.batches:
            for e in batch:
                if e["type"] == "message_new":
                    msg = e["object"]["message"]
                    found.setdefault(msg["from_id"], []).append(msg["text"])
        return found


@contextlib.asynccontextmanager
async def polling(poller: VkLongPoll, handler: Callable[..., Any]) -> AsyncIterator[VkLongPoll]:
    task = asyncio.create_task(poller.run(handler))
    try:
        yield poller
    finally:
        poller.stop()
        await asyncio.wait_for(task, 3)


def make_poller(api: VkApi, club: Community, **kwargs: Any) -> VkLongPoll:
    options: dict[str, Any] = {"wait": 1, "backoff_base": 0.05, "backoff_max": 0.2,
                               "timeout_slack": 1.0}
    options.update(kwargs)
    return VkLongPoll(api, club.id, **options)


async def connected(emu: VkEmulator, calls: int = 1) -> None:
    await emu.wait_for(lambda: len(emu.calls("groups.getLongPollServer", ok=True)) >= calls)


async def test_long_poll_delivers_every_message_once_in_order(
    emu: VkEmulator, api: VkApi, club: Community
) -> None:
    users = [emu.add_user(f"User{i}", "Test") for i in range(5)]
    inbox = Inbox()

    async def write(user: UserRecord) -> None:
        for n in range(10):
            await emu.user_send(user, club, f"{user.id}:{n}")

    async with polling(make_poller(api, club), inbox.handle) as poller:
        await connected(emu)
        await asyncio.gather(*(write(u) for u in users))
        await emu.wait_for(lambda: len(inbox.texts()) >= 50)
        await asyncio.sleep(0.1)
    assert inbox.by_user() == {u.id: [f"{u.id}:{n}" for n in range(10)] for u in users}
    assert poller.events == 50
    assert poller.reconnects == 0


async def test_long_poll_survives_failed_answers_and_broken_connections(
    emu: VkEmulator, api: VkApi, club: Community, anna: UserRecord
) -> None:
    inbox = Inbox()
    sent: list[str] = []

    async def write(label: str) -> None:
        for n in range(3):
            sent.append(f"{label}{n}")
            await emu.user_send(anna, club, f"{label}{n}")
        await emu.wait_for(lambda: inbox.texts() == sent, 5, label)

    async def consumed(kind: str) -> None:
        await emu.wait_for(lambda: any(r.error_msg == f"injected {kind}"
                                       for r in emu.calls("longpoll")[-3:]))

    async with polling(make_poller(api, club), inbox.handle) as poller:
        await connected(emu)
        await write("start")
        # failed 1 carries the server's current ts: caught up, nothing is skipped
        emu.longpoll_fault("failed", 1)
        await consumed("failed")
        await write("after-failed-1-")
        # these keep our ts: events waiting behind them arrive afterwards
        emu.longpoll_fault("failed", 2)
        await write("after-failed-2-")
        emu.expire_key(club)
        await write("after-expiry-")
        emu.longpoll_fault("drop", times=2)
        await write("after-drop-")
        emu.longpoll_fault("status", 500)
        await write("after-500-")
        emu.longpoll_fault("hang")  # times out after wait + slack
        await write("after-hang-")
        emu.trim_history(club)  # we are caught up: an empty history costs nothing
        await write("after-trim-")
        # failed 3: the history is gone; events from before are lost by VK's own rules, so
        # wait for the new key before writing again
        servers = len(emu.calls("groups.getLongPollServer", ok=True))
        emu.lose_history(club)
        await connected(emu, servers + 1)
        await write("after-loss-")
    assert inbox.texts() == sent  # nothing lost, nothing twice
    assert poller.events == len(sent)
    # failed 2, expiry, drop, 500, hang, failed 3: one each (aiohttp itself may repeat a GET
    # cut on a reused connection once, hence two drops)
    assert 6 <= poller.reconnects <= 7
    assert poller.history_gaps == 2  # failed 1 and failed 3
    assert len(emu.calls("groups.getLongPollServer")) == 4  # first, failed 2, expiry, failed 3


async def test_a_failing_handler_gets_the_same_events_again(
    emu: VkEmulator, api: VkApi, club: Community, anna: UserRecord
) -> None:
    inbox = Inbox()
    inbox.fail_next = 1
    async with polling(make_poller(api, club), inbox.handle) as poller:
        await connected(emu)
        for n in range(5):
            await emu.user_send(anna, club, f"m{n}")
        await emu.wait_for(lambda: inbox.texts()[-1:] == ["m4"] and len(inbox.batches) >= 2)
        await asyncio.sleep(0.1)
    first, second = inbox.batches[0], inbox.batches[1]
    assert [e["event_id"] for e in second[: len(first)]] == [e["event_id"] for e in first]
    texts = inbox.texts()
    assert list(dict.fromkeys(texts)) == [f"m{n}" for n in range(5)]  # nothing skipped
    assert texts[len(first):] == [f"m{n}" for n in range(5)]  # at-least-once: only a repeat
    assert poller.handler_failures == 1
    assert poller.events == 5


async def test_batches_acknowledge_only_when_the_next_is_asked(
    emu: VkEmulator, api: VkApi, club: Community, anna: UserRecord
) -> None:
    poller = make_poller(api, club)
    seen: list[str] = []
    await emu.user_send(anna, club, "before")  # earlier than the first ts: not ours
    stream = poller.batches()
    try:
        fetch = asyncio.create_task(anext(stream))
        await connected(emu)
        await emu.user_send(anna, club, "one")
        batch = await asyncio.wait_for(fetch, 3)
        seen += [e["object"]["message"]["text"] for e in batch]
        acknowledged = poller.ts
        # the batch is not acknowledged until the consumer asks for more
        await emu.user_send(anna, club, "two")
        batch = await asyncio.wait_for(anext(stream), 3)
        assert poller.ts != acknowledged
        seen += [e["object"]["message"]["text"] for e in batch]
    finally:
        poller.stop()
        await stream.aclose()
    assert seen == ["one", "two"]
    assert poller.events == 1


async def test_error_29_on_reconnect_is_backed_off(
    emu: VkEmulator, api: VkApi, club: Community, anna: UserRecord
) -> None:
    emu.inject_fault("groups.getLongPollServer", 29, times=3)
    inbox = Inbox()
    async with polling(make_poller(api, club, backoff_base=0.1, backoff_max=1.0),
                       inbox.handle) as poller:
        await connected(emu)
        await emu.user_send(anna, club, "hello")
        await emu.wait_for(lambda: inbox.texts() == ["hello"])
    times = [r.time for r in emu.calls("groups.getLongPollServer")]
    assert len(times) == 4
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g >= 0.04 for g in gaps)  # never a tight loop
    assert sum(gaps) >= 0.3  # growing: 0.05+ , 0.1+, 0.2+
    assert poller.reconnects == 3


async def test_stop_ends_a_waiting_long_poll_promptly(emu: VkEmulator, api: VkApi,
                                                      club: Community) -> None:
    poller = make_poller(api, club, wait=25, timeout_slack=10.0)
    task = asyncio.create_task(poller.run(Inbox().handle))
    await connected(emu)
    await asyncio.sleep(0.2)  # a_check is waiting
    started = time.monotonic()
    poller.stop()
    await asyncio.wait_for(task, 2)
    assert time.monotonic() - started < 1.0


# ---- uploads -----------------------------------------------------------------------------


async def test_photo_and_document_round_trip(
    emu: VkEmulator, api: VkApi, club: Community, anna: UserRecord
) -> None:
    await emu.user_send(anna, club, "send me the invoice")
    image = png()
    photo = await upload_photo(api, anna.id, image, "chart.png")
    doc = await upload_doc(api, anna.id, b"%PDF-1.4 invoice", "invoice.pdf")
    assert photo.startswith(f"photo-{club.id}_")
    assert doc.startswith(f"doc-{club.id}_")
    await api.messages_send(anna.id, "here", random_id=random_id_for(31),
                            attachment=[photo, doc])
    sent = [m for m in emu.messages(club, anna.id) if m["from_id"] == -club.id][0]
    assert [a["type"] for a in sent["attachments"]] == ["photo", "doc"]
    assert emu.file_bytes(sent["attachments"][0]) == image
    assert emu.file_bytes(sent["attachments"][1]) == b"%PDF-1.4 invoice"
    assert emu.file_bytes(photo) == image


async def test_a_refused_photo_is_an_upload_error(api: VkApi, club: Community,
                                                  anna: UserRecord) -> None:
    with pytest.raises(VkUploadError):
        await upload_photo(api, anna.id, b"not an image", "x.png")

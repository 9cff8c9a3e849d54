"""VK in callback mode (SQLite and PostgreSQL): the VK emulator confirms relaydesk's route
and POSTs every event to it with the secret; relaydesk answers `ok` only once the event is
committed, and an event VK sends again is stored once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.vk.callback import VkCallback
from bench.ports import free_port
from bots.app import App, StartupError
from bots.leading import VK_POLLING
from sandbox.vk import ControlError
from tests.config_cases import load, make, only_problem, problems
from tests.harness import Desk, StartRelay
from tests.test_processes import Process, pg_url, processes, until, write_config
from tests.vk_harness import VK_TOKEN, VkSide, bot_texts

__all__ = ["pg_url", "processes"]  # fixtures used below
SECRET = "relaydeskVkCallbackSecret42"
PATH = "/vk/hook"
ROOT = Path(__file__).resolve().parents[1]


def callback_config(vk: VkSide, port: int, confirmation: str | None = None) -> str:
    code = confirmation or vk.club.confirmation_code
    return vk.config() + f"""  mode: callback
  callback: {{path: {PATH}, secret: "{SECRET}", confirmation: "{code}"}}
http:
  listen: 127.0.0.1:{port}
  public_url: http://127.0.0.1:{port}
"""


class Callback:
    """relaydesk in callback mode, registered with the emulator as an admin would."""

    def __init__(self, vk: VkSide, app: App, port: int) -> None:
        self.vk, self.app, self.port = vk, app, port
        self.url = f"http://127.0.0.1:{port}{PATH}"

    @property
    def part(self) -> VkCallback:
        assert self.app.services is not None and self.app.services.vk is not None
        part = self.app.services.vk.callback
        assert part is not None
        return part

    async def post(self, body: Any, headers: dict[str, str] | None = None,
                   raw: bytes | None = None) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            sent = session.post(self.url, data=raw, headers=headers) if raw is not None \
                else session.post(self.url, json=body, headers=headers)
            async with sent as answer:
                return answer.status, await answer.text()


async def start_callback(vk: VkSide, start_relay: StartRelay, port: int | None = None,
                         register: bool = True) -> Callback:
    vk.emu.options.callback_retry_delays = (0.05, 0.1, 0.2, 0.4, 0.8)
    port = port or free_port()
    app = await start_relay(extra=callback_config(vk, port))
    if register:
        await vk.emu.set_callback_server(vk.club, f"http://127.0.0.1:{port}{PATH}", SECRET)
    return Callback(vk, app, port)


async def _stored_counts(pg_url: str) -> list[int]:
    """The customer messages in the database (what intake stored, not what was posted)."""
    import asyncpg

    conn = await asyncpg.connect(pg_url)
    try:
        return [await conn.fetchval("SELECT COUNT(*) FROM message WHERE kind = 'customer'")]
    finally:
        await conn.close()


def stored_texts(desk: Desk, topic: int) -> list[str]:
    return [t for t in bot_texts(desk, topic) if not t.startswith("👤")]


# ---- config ---------------------------------------------------------------------------------

VK = {"token": VK_TOKEN, "group_id": 123}
PUBLIC = {"public_url": "https://support.example.com"}


def test_callback_config_needs_the_section_the_public_url_and_valid_keys() -> None:
    found = only_problem(make(vk={**VK, "mode": "callback"}, http=PUBLIC))
    assert (found.path, found.message) == ("vk.callback", "is required when vk.mode is callback")
    found = only_problem(make(vk={**VK, "mode": "callback", "callback": {
        "secret": "abc", "confirmation": "1a2b3c4d"}}))
    assert found.path == "http" and "public_url" in found.message
    found = only_problem(make(vk={**VK, "mode": "webhook"}))
    assert found.path == "vk.mode" and "callback" in found.message
    bad = problems(make(vk={**VK, "mode": "callback", "callback": {
        "secret": "no spaces!", "confirmation": "a'b", "path": "vk"}}, http=PUBLIC))
    assert set(bad) == {"vk.callback.secret", "vk.callback.confirmation", "vk.callback.path"}
    rendered = "\n".join(item.render() for item in bad.values())
    assert "no spaces!" not in rendered and "a'b" not in rendered
    config = load(make(vk={**VK, "mode": "Callback", "callback": {
        "secret": "abc", "confirmation": "1a2b3c4d"}}, http=PUBLIC))
    assert config.vk is not None and config.vk.callback is not None
    assert config.vk.mode == "callback" and config.vk.callback.path == "/vk/callback"
    assert "abc" not in repr(config.vk) and "1a2b3c4d" not in repr(config.vk)
    assert load(make(vk=VK)).vk.mode == "long_poll"  # type: ignore[union-attr]
    # a disabled section may keep callback mode without the http: section
    load(make(vk={"enabled": False, "mode": "callback"}))


async def test_relaydesk_check_names_the_key_exits_2_and_prints_no_secret(
        tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(make(vk={**VK, "mode": "callback", "callback": {
        "secret": "TopSecret99!", "confirmation": "c0nf1rm"}}), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots", "check", "-c", str(path), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert proc.returncode == 2, out
    assert "vk.callback.secret" in out
    assert "TopSecret99" not in out and VK_TOKEN not in out


# ---- the route ------------------------------------------------------------------------------


async def test_a_whole_conversation_in_callback_mode(desk: Desk, vk: VkSide,
                                                     start_relay: StartRelay) -> None:
    cb = await start_callback(vk, start_relay)
    server = vk.club.callback
    assert server is not None and server.confirmed and cb.part.confirmations == 1
    anna = vk.customer()
    await anna.says("hello by callback")
    topic = await desk.topic_with("hello by callback")
    await desk.operator().says(topic, "hi Anna")
    await anna.receives("hi Anna")
    await anna.says("thanks!")
    await desk.wait(lambda: "thanks!" in stored_texts(desk, topic))
    assert stored_texts(desk, topic) == ["hello by callback", "thanks!"]
    # VK's message_reply of our own answer came back too, and was answered ok
    await vk.emu.wait_for(lambda: any(a["type"] == "message_reply"
                                      for a in vk.emu.callback_attempts(vk.club)))
    assert all((a["status"], a["answer"]) == (200, "ok")
               for a in vk.emu.callback_attempts(vk.club))
    assert not vk.emu.calls("groups.getLongPollServer")  # no long poll beside it
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{cb.port}/metrics") as answer:
        metrics = await answer.text()
    [counted] = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                 if line.startswith('relaydesk_updates_total{channel="vk"}')]
    assert counted >= 3  # two messages and our answer's message_reply, counted as polled
    services = cb.app.services
    assert services is not None and services.vk is not None
    assert services.vk.longpoll is None
    if services.leadership is not None:  # PostgreSQL: nobody needs to lead VK's polling
        assert VK_POLLING not in services.leadership._roles


async def test_confirmation_answers_only_our_group(desk: Desk, vk: VkSide,
                                                   start_relay: StartRelay) -> None:
    cb = await start_callback(vk, start_relay, register=False)
    assert await cb.post({"type": "confirmation", "group_id": vk.club.id}) == (
        200, vk.club.confirmation_code)
    assert await cb.post({"type": "confirmation", "group_id": vk.club.id + 1}) == (
        403, "unknown group")
    assert await cb.post({"type": "confirmation", "group_id": vk.club.id,
                          "secret": "wrong"}) == (403, "bad secret")
    # VK's own check: a server answering another string is never confirmed, gets nothing
    vk.club.confirmation_code = "0ther0ne"
    with pytest.raises(ControlError, match="not the confirmation string"):
        await vk.emu.set_callback_server(vk.club, cb.url, SECRET)
    assert vk.club.callback is not None and not vk.club.callback.confirmed


async def test_a_wrong_confirmation_in_the_config_stops_the_start(
        desk: Desk, vk: VkSide, start_relay: StartRelay) -> None:
    with pytest.raises(StartupError, match=r"vk\.callback\.confirmation: it is not the "):
        await start_relay(extra=callback_config(vk, free_port(), confirmation="n0tTh1s"))


def _forged(vk: VkSide, user_id: int, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message_new", "group_id": vk.club.id, "event_id": "f0rged" + text,
            "v": "5.199", "object": {"message": {
                "id": 999_000 + len(text), "date": 1_700_000_000, "from_id": user_id,
                "peer_id": user_id, "text": text, "conversation_message_id": 1, "out": 0,
                "attachments": [], "fwd_messages": []}, "client_info": {}}, **extra}


async def test_a_wrong_or_missing_secret_or_group_is_refused_and_stores_nothing(
        desk: Desk, vk: VkSide, start_relay: StartRelay) -> None:
    cb = await start_callback(vk, start_relay)
    anna = vk.customer()
    assert await cb.post(_forged(vk, anna.id, "forged one")) == (403, "bad secret")
    assert await cb.post(_forged(vk, anna.id, "forged two", secret="wrong")) == (
        403, "bad secret")
    assert await cb.post(_forged(vk, anna.id, "forged three", secret=SECRET,
                                 group_id=vk.club.id + 1)) == (403, "unknown group")
    assert (await cb.post(None, raw=b"{not json"))[0] == 400
    assert (await cb.post([1, 2]))[0] == 400
    # an event type relaydesk does not handle: ok, so VK does not send it again
    assert await cb.post({"type": "wall_post_new", "group_id": vk.club.id, "secret": SECRET,
                          "event_id": "w1", "object": {"id": 1}}) == (200, "ok")
    assert cb.part.refused == 3 and cb.part.received == 0
    await anna.says("the real one")
    await desk.topic_with("the real one")
    assert not any(desk.find(f"forged {n}") for n in ("one", "two", "three"))


async def test_an_event_vk_sends_again_is_stored_once(desk: Desk, vk: VkSide,
                                                      start_relay: StartRelay) -> None:
    cb = await start_callback(vk, start_relay)
    anna = vk.customer()
    vk.emu.lose_callback_answers(2)  # our "ok" gets lost twice: VK retries the same event
    await anna.says("only once please")
    topic = await desk.topic_with("only once please")
    await vk.emu.wait_for(lambda: len(vk.emu.callback_attempts(vk.club)) >= 3)
    first = vk.emu.callback_attempts(vk.club)[:3]
    assert [a["attempt"] for a in first] == [0, 1, 2]  # X-Retry-Counter 1 and 2
    assert len({a["event_id"] for a in first}) == 1
    assert all((a["status"], a["answer"]) == (200, "ok") for a in first)
    assert cb.part.repeats == 2
    # a retry reaching a process that never saw it (a restart here) is recognised by intake
    await cb.app.stop()
    cb = Callback(vk, await start_relay(extra=callback_config(vk, cb.port)), cb.port)
    [event] = [e for e in vk.emu.events(vk.club, "message_new")
               if e["object"]["message"]["text"] == "only once please"]
    assert await cb.post(dict(event, secret=SECRET), {"X-Retry-Counter": "3"}) == (200, "ok")
    await anna.says("after")
    await desk.wait(lambda: "after" in stored_texts(desk, topic))
    assert stored_texts(desk, topic) == ["only once please", "after"]


async def test_an_event_that_could_not_be_stored_gets_no_ok_and_comes_again(
        desk: Desk, vk: VkSide, start_relay: StartRelay) -> None:
    cb = await start_callback(vk, start_relay)
    assert cb.app.services is not None
    intake = cb.app.services.intake
    real = intake.relay_customer_to_desk
    failures: list[int] = []

    async def database_away(*args: Any, **kwargs: Any) -> Any:
        # five failures: as many as the long poll skips an event after (not here: VK
        # sends it again, and skipping it would lose it)
        if len(failures) < 5:
            failures.append(1)
            raise ConnectionRefusedError("the database is down")
        return await real(*args, **kwargs)

    intake.relay_customer_to_desk = database_away  # type: ignore[method-assign]
    anna = vk.customer()
    await anna.says("while the database is down")
    await anna.says("and this one waits its turn")
    topic = await desk.topic_with("while the database is down")
    await desk.wait(lambda: len(stored_texts(desk, topic)) >= 2)
    assert stored_texts(desk, topic) == ["while the database is down",
                                         "and this one waits its turn"]
    attempts = vk.emu.callback_attempts(vk.club)
    assert [(a["attempt"], a["status"]) for a in attempts[:6]] == [
        (0, 500), (1, 500), (2, 500), (3, 500), (4, 500), (5, 200)]
    assert attempts[0]["answer"] != "ok" and attempts[5]["answer"] == "ok"
    assert cb.part.failed == 5 and len(failures) == 5


async def test_events_sent_while_relaydesk_was_away_arrive_when_it_listens(
        desk: Desk, vk: VkSide, start_relay: StartRelay) -> None:
    cb = await start_callback(vk, start_relay)
    vk.emu.options.callback_retry_delays = (0.3,) * 20
    await cb.app.stop()
    anna = vk.customer()
    await anna.says("while you were away")
    await vk.emu.wait_for(lambda: any(a["status"] == 0
                                      for a in vk.emu.callback_attempts(vk.club)))
    await start_callback(vk, start_relay, port=cb.port, register=False)
    await desk.topic_with("while you were away")


def test_relaydesk_check_summary_names_the_mode_and_address() -> None:
    from bots.config import summarize

    config = load(make(vk={**VK, "mode": "callback", "callback": {
        "secret": "abc", "confirmation": "1a2b3c4d"}}, http=PUBLIC))
    assert ("  vk: community 123, https://api.vk.ru (callback at "
            "https://support.example.com/vk/callback)") in summarize(config)
    assert "  vk: community 123, https://api.vk.ru (long_poll)" in summarize(load(make(vk=VK)))


class RoundRobin:
    """A tiny proxy in front of several relaydesk processes, as nginx's upstream: a process
    that does not answer makes it 502 (VK then sends the event again)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports, self.turn, self.hits = ports, 0, [0] * len(ports)

    async def forward(self, request: Any) -> Any:
        from aiohttp import web

        index = self.turn % len(self.ports)
        self.turn += 1
        self.hits[index] += 1
        try:
            async with aiohttp.ClientSession() as session, session.post(
                    f"http://127.0.0.1:{self.ports[index]}{PATH}", data=await request.read(),
                    headers={k: v for k, v in request.headers.items()
                             if k.lower() in ("content-type", "x-retry-counter")}) as answer:
                return web.Response(status=answer.status, text=await answer.text())
        except aiohttp.ClientError:
            return web.Response(status=502)


async def test_any_of_several_processes_takes_the_callbacks(
        pg_url: str, desk: Desk, vk: VkSide, tmp_path: Path,
        processes: list[Process]) -> None:
    """Two `relaydesk run` processes on one PostgreSQL behind a round-robin proxy; one is
    killed halfway: nothing is lost, nothing is stored twice, the order holds. A copy the
    killed one had on the wire may reach the topic twice (deliveries are at least once):
    the repeat follows its original at once, and there is at most one."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    vk.emu.options.callback_retry_delays = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
    ports = [free_port(), free_port()]
    config = write_config(tmp_path / "relaydesk.yaml", pg_url, desk.emu.base_url, desk.group,
                          extra=vk.config() + f"""  mode: callback
  callback: {{path: {PATH}, secret: "{SECRET}", confirmation: "{vk.club.confirmation_code}"}}
http:
  listen: "127.0.0.1:${{RELAYDESK_PORT}}"
  public_url: https://support.example.com
""")
    for index, port in enumerate(ports):
        processes.append(Process(config, f"p{index}", {"RELAYDESK_PORT": str(port)}))
        processes[-1].start()
    await until(lambda: all("relaydesk started" in p.text() for p in processes), 180)
    assert not any("now leads vk-polling" in p.text() for p in processes)
    proxy = RoundRobin(ports)
    app = web.Application()
    app.router.add_post(PATH, proxy.forward)
    async with TestServer(app, host="127.0.0.1") as server:
        await vk.emu.set_callback_server(vk.club, str(server.make_url(PATH)), SECRET)
        anna = vk.customer()
        vk.emu.lose_callback_answers(1)  # the retry of the first event reaches the other one
        texts = [f"message {n}" for n in range(8)]
        for text in texts[:4]:
            await anna.says(text)
        topic = await desk.topic_with("message 0", timeout=30)
        await desk.wait(lambda: len(stored_texts(desk, topic)) >= 4, timeout=30)
        assert min(proxy.hits) >= 2  # both processes took events
        processes[0].kill()  # its callbacks now get 502: VK sends them again
        for text in texts[4:]:
            await anna.says(text)
        # Every text, not a count: a repeat of the copy in flight at the kill would fill
        # a count while the last text still waits for VK's retry.
        await desk.wait(lambda: set(texts) <= set(stored_texts(desk, topic)), timeout=30)
        await desk.operator().says(topic, "answered by the one left")
        await anna.receives("answered by the one left", timeout=30)
    posted = stored_texts(desk, topic)
    repeats = [n for n in range(1, len(posted)) if posted[n] == posted[n - 1]]
    assert [t for n, t in enumerate(posted) if n not in repeats] == texts  # in order
    assert len(repeats) <= 1  # at most the copy on the wire when the process died
    [stored] = await _stored_counts(pg_url)
    assert stored == len(texts)  # each stored once
    assert any(a["status"] == 502 for a in vk.emu.callback_attempts(vk.club))


async def test_messages_vk_gave_up_on_while_away_are_read_back_at_start(
        desk: Desk, vk: VkSide, start_relay: StartRelay) -> None:
    cb = await start_callback(vk, start_relay)
    anna = vk.customer()
    await anna.says("before the outage")
    topic = await desk.topic_with("before the outage")
    await cb.app.stop()  # keeps the newest handled message id
    vk.emu.options.callback_retry_delays = (0.05, 0.05)
    await anna.says("VK gave up on this one")
    server = vk.club.callback
    assert server is not None
    await vk.emu.wait_for(lambda: server.given_up)  # relaydesk was away for every retry
    again = await start_callback(vk, start_relay, port=cb.port, register=False)
    await desk.wait(lambda: "VK gave up on this one" in stored_texts(desk, topic))
    assert stored_texts(desk, topic) == ["before the outage", "VK gave up on this one"]
    services = again.app.services
    assert services is not None and services.vk is not None
    assert services.vk.catch_up is not None and services.vk.catch_up.recovered == 1


# ---- the emulator's callback mode, as VK behaves --------------------------------------------


async def test_the_emulator_confirms_pushes_with_the_secret_retries_and_gives_up(
        vk_emu: Any) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    emu = vk_emu
    club = emu.add_community(name="Support")
    emu.options.callback_retry_delays = (0.02, 0.02)
    seen: list[tuple[dict[str, Any], str | None]] = []
    answers = ["fail", "ok", "nope", "nope", "nope", "ok"]

    async def server(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((body, request.headers.get("X-Retry-Counter")))
        if body["type"] == "confirmation":
            return web.Response(text=club.confirmation_code)
        return web.Response(text=answers.pop(0))

    app = web.Application()
    app.router.add_post("/cb", server)
    async with TestServer(app, host="127.0.0.1") as http, aiohttp.ClientSession() as session:
        await emu.set_callback_server(club, str(http.make_url("/cb")), "s3cret")
        assert seen[0] == ({"type": "confirmation", "group_id": club.id}, None)
        async with session.post(f"{emu.base_url}/method/groups.getCallbackServers", data={
                "access_token": club.token, "v": "5.199", "group_id": club.id}) as resp:
            [listed] = (await resp.json())["response"]["items"]
        assert listed["status"] == "ok" and listed["url"].endswith("/cb")
        async with session.post(f"{emu.base_url}/method/groups.getCallbackConfirmationCode",
                                data={"access_token": club.token, "v": "5.199",
                                      "group_id": club.id}) as resp:
            assert (await resp.json())["response"] == {"code": club.confirmation_code}
        anna = emu.add_user("Anna")
        await emu.user_send(anna, club, "first")  # "fail", then "ok" on the retry
        await emu.user_send(anna, club, "second")  # never "ok": dropped after 2 retries
        await emu.user_send(anna, club, "third")
        await emu.wait_for(lambda: len(seen) == 7)
    events = [(b["type"], b["object"]["message"]["text"], b["secret"], retry)
              for b, retry in seen[1:]]
    assert events == [("message_new", "first", "s3cret", None),
                      ("message_new", "first", "s3cret", "1"),
                      ("message_new", "second", "s3cret", None),
                      ("message_new", "second", "s3cret", "1"),
                      ("message_new", "second", "s3cret", "2"),
                      ("message_new", "third", "s3cret", None)]
    assert seen[1][0]["event_id"] == seen[2][0]["event_id"]  # a retry is the same event
    assert [e["object"]["message"]["text"] for e in club.callback.given_up] == ["second"]


async def test_the_route_answers_ok_only_once_stored() -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    stored: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def handler(events: list[dict[str, Any]]) -> None:
        if events[0]["type"] == "message_deny":
            raise RuntimeError("the database is away")  # a rare error path
        if events[0]["type"] == "message_allow":
            await release.wait()  # storing hangs past the deadline
        stored.extend(events)

    route = VkCallback("/cb", 7, SECRET, "c0de", handler, deadline=0.2)
    app = web.Application()
    route.mount(app)

    def event(kind: str, n: int) -> dict[str, Any]:
        return {"type": kind, "group_id": 7, "secret": SECRET, "event_id": f"e{n}",
                "object": {"user_id": 5, "key": ""}}

    async with TestClient(TestServer(app)) as client:
        answers = [await client.post("/cb", json=event(kind, n)) for n, kind in
                   enumerate(["message_allow", "message_deny", "message_edit"])]
        release.set()
        assert [(a.status, await a.text()) for a in answers] == [
            (503, "try again"), (500, "try again"), (200, "ok")]
        assert [e["type"] for e in stored] == ["message_edit"]
        again = await client.post("/cb", json=event("message_edit", 2),
                                  headers={"X-Retry-Counter": "1"})
        assert (again.status, await again.text()) == (200, "ok")
        assert len(stored) == 1 and route.repeats == 1 and route.failed == 2

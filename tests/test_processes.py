"""Several `relaydesk run` processes: on PostgreSQL they share the work (one polls; when it
is killed another takes over and nothing is lost); on SQLite a second one is refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bench.ports import free_ports
from bench.webhook_proxy import RoundRobin
from sandbox.telegram import TelegramEmulator
from tests.dbs import PgDatabase
from tests.harness import FAST_LIMITS, Desk, relay_config_text

ROOT = Path(__file__).resolve().parents[1]
LEADS_POLLING = "now leads telegram-polling"


class Process:
    """One `relaydesk run`, its log in a file."""

    def __init__(self, config: Path, name: str, env: dict[str, str] | None = None) -> None:
        self.log = config.parent / f"{name}.log"
        self.name = name
        self._config = config
        self._env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - a child we watch through its log
                [sys.executable, "-m", "bots", "run", "-c", str(self._config)],
                cwd=ROOT, stdout=log, stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self._env})

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# Telegram's limits, the group's window shrunk to one second: tight enough that three
# processes sending on their own would overrun it.
TIGHT = ("{private_chat: {count: 5, per: 500ms}, group: {count: 10, per: 1s}, "
         "bot: {count: 30, per: 1s}}")


def write_config(path: Path, db_url: str, api: str, group: int, limits: str = FAST_LIMITS,
                 extra: str = "", telegram: dict[str, Any] | None = None) -> Path:
    path.write_text(relay_config_text(db_url, api, group, extra=extra, limits=limits,
                                      telegram=telegram))
    return path


async def until(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    async def poll() -> None:
        while True:
            if predicate():
                return
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def pg_url(pg_database: PgDatabase) -> AsyncIterator[str]:
    yield await pg_database.fresh()


@pytest.fixture
def processes() -> list[Process]:
    started: list[Process] = []
    yield started  # type: ignore[misc]
    for process in started:
        process.stop()
    for process in started:  # shown when the test failed
        print(f"---- {process.name} ----\n{process.text()[-3000:]}")  # noqa: T201


async def test_three_processes_one_poller_and_takeover(
        pg_url: str, desk: Desk, tmp_path: Path, processes: list[Process]) -> None:
    emu: TelegramEmulator = desk.emu
    emu.set_rate_limits(enabled=True, private=(5, 0.5), group=(10, 1.0), bot=(30, 1.0))
    config = write_config(tmp_path / "relaydesk.yaml", pg_url, emu.base_url, desk.group,
                          TIGHT)
    for index in range(3):
        processes.append(Process(config, f"p{index}"))
        processes[-1].start()
    # Each process spends seconds of CPU importing aiogram: three on two cores take a while.
    await until(lambda: all("relaydesk started" in p.text() for p in processes), 180)
    await until(lambda: sum(LEADS_POLLING in p.text() for p in processes) == 1)
    leader = next(p for p in processes if LEADS_POLLING in p.text())

    customers = [desk.customer(f"C{i}") for i in range(10)]
    for customer in customers:
        await customer.says(f"{customer.user.first_name}: one")
    for customer in customers:
        await desk.topic_with(f"{customer.user.first_name}: one", timeout=30)

    leader.kill()  # no goodbye: its connection drops, PostgreSQL frees the polling role
    for customer in customers:
        await customer.says(f"{customer.user.first_name}: two")
    others = [p for p in processes if p is not leader]
    await until(lambda: sum(LEADS_POLLING in p.text() for p in others) == 1)
    for customer in customers:
        await desk.topic_with(f"{customer.user.first_name}: two", timeout=30)

    leader.start()  # back again: another process polls now, so it waits its turn
    await until(lambda: leader.text().count("relaydesk started") == 2, 120)
    await customers[0].says("C0: three")
    await desk.topic_with("C0: three", timeout=30)
    assert leader.text().count(LEADS_POLLING) == 1
    duplicates = 0
    for customer in customers:
        name = customer.user.first_name
        topic = await desk.topic_with(f"{name}: one")
        texts = [m.get("text") for m in desk.bot_posts(topic) if m.get("text", "")[:1] != "👤"]
        once = [t for i, t in enumerate(texts) if i == 0 or texts[i - 1] != t]
        assert once == [f"{name}: one", f"{name}: two"] + (["C0: three"] if name == "C0"
                                                              else [])  # all there, in order
        duplicates += len(texts) - len(once)
    # The killed process may have sent rows it could not mark done: they are sent again
    # (at least once), never more of them than the rows it held.
    reaped = sum(int(n) for p in processes for n in re.findall(
        r"outbox: (\d+) deliveries of a process that died are due again", p.text()))
    assert duplicates <= reaped
    # Every limit held across the processes together: Telegram never had to refuse.
    assert not emu.violations
    assert [r for r in emu.requests if r.status == 429] == []


async def test_a_second_process_on_one_sqlite_file_is_refused(
        desk: Desk, tmp_path: Path, processes: list[Process]) -> None:
    db_url = f"sqlite://{tmp_path / 'relaydesk.sqlite3'}"
    config = write_config(tmp_path / "relaydesk.yaml", db_url, desk.emu.base_url, desk.group)
    first = Process(config, "first")
    processes.append(first)
    first.start()
    await until(lambda: "relaydesk started" in first.text(), 120)
    second = subprocess.run(  # noqa: ASYNC221 - it exits at once
        [sys.executable, "-m", "bots", "run", "-c", str(config)], cwd=ROOT,
        capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 2
    assert "another relaydesk process" in second.stderr
    assert f"pid {first.proc.pid}" in second.stderr if first.proc else False
    assert "PostgreSQL" in second.stderr


class UpdateKeepingRoundRobin(RoundRobin):
    """The proxy, keeping each update taken with the port of the process that took it."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__(ports)
        # (the port that answered 200, the update) of each update taken
        self.accepted: list[tuple[int, dict[str, Any]]] = []

    def taken(self, port: int, body: bytes, started: float) -> None:
        with contextlib.suppress(ValueError):
            self.accepted.append((port, json.loads(body)))


async def test_three_webhook_processes_behind_a_proxy_one_killed_in_a_burst(
        pg_url: str, desk: Desk, tmp_path: Path, processes: list[Process]) -> None:
    emu: TelegramEmulator = desk.emu
    emu.options.webhook_allow_http = True
    emu.options.webhook_retry_delay = 0.1
    emu.set_rate_limits(enabled=True, private=(5, 0.5), group=(10, 1.0), bot=(30, 1.0))
    ports = free_ports(3)
    proxy = UpdateKeepingRoundRobin(ports)
    public = await proxy.start()
    try:
        config = write_config(
            tmp_path / "relaydesk.yaml", pg_url, emu.base_url, desk.group, TIGHT,
            extra=f"http: {{listen: '127.0.0.1:${{RELAYDESK_PORT}}', public_url: '{public}'}}",
            telegram={"mode": "webhook", "webhook": {"path": "/hook", "secret": "burst-secret",
                                                     "max_connections": 8}})
        for index, port in enumerate(ports):
            processes.append(Process(config, f"w{index}", {"RELAYDESK_PORT": str(port)}))
            processes[-1].start()
        await until(lambda: all("relaydesk started" in p.text() for p in processes), 180)

        customers = [desk.customer(f"B{i}") for i in range(50)]
        victim = processes[1]
        for round_ in range(5):
            for customer in customers:
                await customer.says(f"{customer.user.first_name}: {round_}")
            if round_ == 1:
                victim.kill()  # mid-burst, while updates and sends are in flight
        victim.start()
        await until(lambda: victim.text().count("relaydesk started") == 2, 180)

        def all_there() -> bool:
            got = sum(1 for m in desk.messages() if m.get("from", {}).get("is_bot")
                      and ":" in str(m.get("text", "")) and m.get("text", "")[:1] == "B")
            return got >= 250

        await until(all_there, 240)
    finally:
        await proxy.stop()
    duplicates = 0
    for customer in customers:
        name = customer.user.first_name
        topic = await desk.topic_with(f"{name}: 0")
        texts = [m.get("text") for m in desk.bot_posts(topic) if m.get("text", "")[:1] != "👤"]
        once = [t for i, t in enumerate(texts) if i == 0 or texts[i - 1] != t]
        assert once == [f"{name}: {r}" for r in range(5)]  # nothing lost, in order
        duplicates += len(texts) - len(once)
    reaped = sum(int(n) for p in processes for n in re.findall(
        r"outbox: (\d+) deliveries of a process that died are due again", p.text()))
    assert duplicates <= reaped  # only rows the killed process had in flight
    assert len(desk.topics()) == 50
    assert not emu.violations
    assert [r for r in emu.requests if r.status == 429] == []
    assert emu.pending_updates() == []


async def test_an_album_split_over_three_webhook_processes_is_one_album(
        pg_url: str, desk: Desk, tmp_path: Path, processes: list[Process]) -> None:
    """Each part of an album reaches another process (round robin): the parts still go out
    together, in one copyMessages call into the customer's topic."""
    emu: TelegramEmulator = desk.emu
    emu.options.webhook_allow_http = True
    emu.options.webhook_retry_delay = 0.1
    ports = free_ports(3)
    proxy = UpdateKeepingRoundRobin(ports)
    public = await proxy.start()
    try:
        config = write_config(
            tmp_path / "relaydesk.yaml", pg_url, emu.base_url, desk.group,
            extra=f"http: {{listen: '127.0.0.1:${{RELAYDESK_PORT}}', public_url: '{public}'}}",
            telegram={"mode": "webhook", "webhook": {"path": "/hook", "secret": "album-secret"}})
        for index, port in enumerate(ports):
            processes.append(Process(config, f"a{index}", {"RELAYDESK_PORT": str(port)}))
            processes[-1].start()
        await until(lambda: all("relaydesk started" in p.text() for p in processes), 180)
        anna, boris = desk.customer("Anna"), desk.customer("Boris")
        await anna.says("photos follow")
        topic = await desk.topic_with("photos follow", timeout=30)
        # One album at a time: consecutive requests go to consecutive processes.
        albums = {anna.id: await emu.user_send_album(anna.user, anna.id, ["photo"] * 3,
                                                     caption="anna's album")}
        await until(lambda: emu.pending_updates() == [], 60)
        # an album as the very first message: the conversation is opened by whichever
        # process gets the first part
        albums[boris.id] = await emu.user_send_album(boris.user, boris.id,
                                                     ["photo", "video", "photo"],
                                                     caption="boris's album")
        await until(lambda: emu.pending_updates() == [], 60)
        await until(lambda: len(desk.topics()) == 2, 30)
        boris_topic = await desk.topic_with("boris's album", timeout=30)
        await until(lambda: all(len(album_copies(desk, t)) >= 3
                                for t in (topic, boris_topic)), 30)
        await asyncio.sleep(1)  # a stray part sent late and alone would show by now
    finally:
        await proxy.stop()
    for customer, where in ((anna, topic), (boris, boris_topic)):
        parts = {p["message_id"] for p in albums[customer.id]}
        # the parts went to different processes (all three, unless the group's service
        # message of Boris's new topic took a turn in between)
        assert len(takers(proxy, customer.id, parts)) >= 2
        copies = album_copies(desk, where)
        assert len(copies) == 3 and len({c.get("media_group_id") for c in copies}) == 1
        calls = [r for r in emu.requests if r.method == "copyMessages" and r.ok
                 and r.params.get("message_thread_id") in (where, str(where))]
        assert len(calls) == 1, [r.params for r in calls]


def album_copies(desk: Desk, topic: int) -> list[dict[str, object]]:
    return [m for m in desk.bot_posts(topic) if m.get("media_group_id")]


def takers(proxy: UpdateKeepingRoundRobin, chat_id: int, message_ids: set[int]) -> set[int]:
    """The ports of the processes that took these messages of a chat."""
    return {port for port, update in proxy.accepted
            if update.get("message", {}).get("chat", {}).get("id") == chat_id
            and update["message"]["message_id"] in message_ids}

"""The website widget: latency both ways, 2 000 idle visitors' memory, the widget's size.

    .venv/bin/python -m bench.web [--db sqlite|postgres] [--samples 200] [--idle 2000]

relaydesk (the real App, HTTP server and outbox), the Telegram emulator and the measuring
visitor run in this process, on 127.0.0.1; the idle visitors' sockets are held by a child
process, so the server's memory figure is its own.

- visitor→topic: a `send` frame on the visitor's WebSocket → its `ack` (intake committed),
  and → the copy in the operator topic (the emulator handled the sendMessage);
- operator→visitor: an operator's message in the topic (the emulator queued the update) →
  the event frame on the visitor's socket (long poll, intake, outbox, the web channel);
- idle: VmRSS / VmHWM of this process before and with `--idle` connected, greeted sockets,
  and operator→visitor measured again while they are connected (no broadcast: an answer
  wakes only its visitor's sockets).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from adapters.web.tokens import VisitorTokens
from bench.common import PYTHON, ROOT
from bench.databases import pg_database
from bench.report import emit, log, summary_ms
from bots.app import App
from bots.config import load_config_text
from sandbox.telegram import TelegramEmulator

SECRET = "bench-web-secret-" + "b" * 32
ORIGIN = "https://shop.example.com"
TOKEN = "424242:BenchToken-web"


def _status(field: str) -> float:
    """A /proc/self/status figure, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _config(db_url: str, api: str, group: int) -> Any:
    return load_config_text(f"""
storage: {{url: "{db_url}"}}
telegram: {{token: "{TOKEN}", api_server: "{api}", poll_timeout: 10s,
  limits: {{private_chat: {{count: 1000, per: 1s}}, group: {{count: 1000, per: 1s}},
            bot: {{count: 1000, per: 1s}}}}}}
operators: {{chat_id: {group}}}
logging: {{level: WARNING}}
http: {{listen: "127.0.0.1:0"}}
# One visitor sends every sample back to back: far past the flood limit, which would combine
# them instead of relaying each (the limit's own cost is measured by bench.feedback).
abuse: {{enabled: false}}
# Surge handling off: each visitor message is its own post, which the bench waits for.
outbox: {{spare_topics: 0, coalesce: false}}
web: {{secret: "{SECRET}", allowed_origins: ["{ORIGIN}"],
  visitor_rate: {{count: 100000, per: 1s}}, ip_rate: {{count: 100000, per: 1s}},
  max_sockets: 8}}
""", source="bench", env={})


class Visitor:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def frame(self, kind: str) -> dict[str, Any]:
        while True:
            frame = await self.ws.receive_json(timeout=30)
            if frame["type"] == kind:
                return frame


async def _visitor(session: aiohttp.ClientSession, base: str) -> Visitor:
    token = VisitorTokens(SECRET.encode()).issue()[1]
    ws = await session.ws_connect(f"{base}/web/ws")
    await ws.send_json({"type": "hello", "token": token, "after": 0, "lang": "en"})
    visitor = Visitor(ws)
    await visitor.frame("ready")
    return visitor


async def _visitor_to_topic(emu: TelegramEmulator, group: int, visitor: Visitor,
                            samples: int) -> tuple[list[float], list[float]]:
    acks, copies = [], []
    for n in range(samples):
        text = f"visitor message {n} {time.monotonic_ns()}"
        t0 = time.perf_counter()
        await visitor.ws.send_json({"type": "send", "client_id": f"bench-{n:06d}-x",
                                    "text": text})
        await visitor.frame("ack")
        acks.append(time.perf_counter() - t0)
        await emu.wait_for(lambda t=text: any(m.get("text") == t  # type: ignore[misc]
                                             for m in emu.messages(group)[-5:]), 10)
        copies.append(time.perf_counter() - t0)
    return acks, copies


async def _operator_to_visitor(emu: TelegramEmulator, group: int, operator: Any, topic: int,
                               visitor: Visitor, samples: int) -> list[float]:
    took = []
    for n in range(samples):
        text = f"operator answer {n}"
        t0 = time.perf_counter()
        await emu.user_send(operator, group, text=text, thread_id=topic)
        while True:
            frame = await visitor.frame("events")
            if any(e.get("text") == text for e in frame["events"]):
                break
        took.append(time.perf_counter() - t0)
    return took


def _timed(app: App) -> dict[str, list[float]]:
    """The server's own part, timed from inside: a visitor's message from its frame to its
    acknowledgement (intake's unit committed, the event stored, the tabs woken), and the web
    channel's send of an operator answer (the event stored, the visitor's sockets woken)."""
    assert app.services is not None and app.services.web is not None
    web = app.services.web
    assert web.part is not None
    visitors = web.part._visitors
    taken: dict[str, list[float]] = {"say": [], "send": []}

    def wrap(owner: Any, name: str, key: str) -> None:
        inner = getattr(owner, name)

        async def timed(*args: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await inner(*args, **kw)
            finally:
                taken[key].append(time.perf_counter() - t0)
        setattr(owner, name, timed)

    wrap(visitors, "say", "say")
    wrap(web.channel, "send", "send")
    return taken


async def _idle(base: str, count: int) -> asyncio.subprocess.Process:
    """A child process holding `count` greeted visitor sockets; returns once all are up."""
    child = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "bench.web", "--hold", base, "--idle", str(count), cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout is not None
    line = await child.stdout.readline()
    if line.strip() != b"ready":
        raise RuntimeError(f"idle visitors failed: {line!r}")
    return child


async def hold(base: str, count: int) -> None:
    """The child: connect and greet `count` visitors, say "ready", wait for stdin to close."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers={"Origin": ORIGIN}, connector=connector) as s:
        visitors = []
        for start in range(0, count, 100):
            visitors += await asyncio.gather(*(_visitor(s, base)
                                               for _ in range(min(100, count - start))))
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.read)
        for v in visitors:
            await v.ws.close()


async def run(db: str, samples: int, idle: int) -> dict[str, Any]:
    emu = TelegramEmulator()
    await emu.start(host="127.0.0.1", port=0)
    emu.add_bot(token=TOKEN, username="bench_web_bot")
    group = emu.create_supergroup(title="Support", forum=True, bot_admin=True,
                                  can_manage_topics=True)
    operator = emu.add_user(first_name="Olga", last_name=None, username=None,
                            language_code="en")
    emu.add_member(group, operator)
    async with contextlib.AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="relaydesk-bench-web-"))
        db_url = f"sqlite://{tmp}/web.sqlite3" if db == "sqlite" else \
            await stack.enter_async_context(pg_database("relaydesk_bench_web"))
        app = App(_config(db_url, emu.base_url, group), migrate=True)
        await app.start()
        try:
            assert app.services is not None and app.services.http is not None
            base = f"http://127.0.0.1:{app.services.http.port}"
            async with aiohttp.ClientSession(headers={"Origin": ORIGIN}) as session:
                visitor = await _visitor(session, base)
                await visitor.ws.send_json({"type": "send", "client_id": "bench-first-1",
                                            "text": "first"})
                await visitor.frame("ack")
                await emu.wait_for(lambda: any(m.get("text") == "first"
                                               for m in emu.messages(group)), 10)
                topic = next(m["message_thread_id"] for m in emu.messages(group)
                             if m.get("text") == "first")
                inside = _timed(app)
                log("visitor → topic …")
                acks, copies = await _visitor_to_topic(emu, group, visitor, samples)
                log("operator → visitor …")
                answers = await _operator_to_visitor(emu, group, operator, topic, visitor,
                                                     samples)
                say_s, send_s = list(inside["say"]), list(inside["send"])
                rss0 = _status("VmRSS")
                # VmHWM counts from here on.
                await asyncio.to_thread(Path("/proc/self/clear_refs").write_text, "5")
                log(f"{idle} idle visitors …")
                child = await _idle(base, idle)
                hub = app.services.web.hub if app.services.web else None
                listening = len(hub._listeners) if hub else 0
                rss1, hwm1 = _status("VmRSS"), _status("VmHWM")
                busy = await _operator_to_visitor(emu, group, operator, topic, visitor,
                                                  max(20, samples // 4))
                assert child.stdin is not None
                child.stdin.close()
                await child.wait()
        finally:
            await app.stop()
            await emu.stop()
    static = ROOT / "adapters" / "web" / "static"
    return {
        "db": db,
        "visitor_to_ack": summary_ms(acks),
        "visitor_to_topic": summary_ms(copies),
        "operator_to_visitor": summary_ms(answers),
        "server_visitor_message": summary_ms(say_s),
        "server_channel_send": summary_ms(send_s),
        "operator_to_visitor_with_idle": summary_ms(busy),
        "idle_visitors": idle,
        "listening_visitors": listening,
        "rss_mb_before": round(rss0, 1), "rss_mb_with_idle": round(rss1, 1),
        "peak_mb_above_before": round(hwm1 - rss0, 1),
        "widget_bytes": {p.name: p.stat().st_size for p in sorted(static.iterdir())},
        "widget_total_bytes": sum(p.stat().st_size for p in static.iterdir()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--hold", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold:
        asyncio.run(hold(args.hold, args.idle))
        return
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    emit(f"web_{args.db}", asyncio.run(run(args.db, args.samples, args.idle)))


if __name__ == "__main__":
    main()

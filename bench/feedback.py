"""What the after-the-answer capabilities cost on the relay path, and what a flood does to
other customers: `python -m bench.feedback --relay sqlite|postgres`.

Latency, side by side in one run: relaydesk with the survey, canned replies and flood limits
off (`csat: {enabled: false}`, `abuse: {enabled: false}`, no `canned`), then on (defaults,
one canned reply), alternating `--rounds` times and pooling the samples of each; rate limits
off, samples sequential and closed-loop (as bench/relay_latency.py): customer → topic for
warmed-up customers, operator → customer, a new customer's first message (the ban and
survey-comment checks run there), and with them on, `/t hello` → the customer's copy and
`/close` → the survey question in the customer's chat.

Flood (capabilities on, and off for comparison): other customers' customer → topic latency
while one customer sends `--flood` messages as fast as the emulator takes them, against the
same samples without the flood. The flood comes from its own process over HTTP
(bench/flood_sender.py), as a customer's client would send it: made in the benchmark's
process, where the emulator lives, it kept the emulator from answering relaydesk while the
flood was being made (`--flood-sender in_process` keeps that way, for comparison). Prints JSON
and keeps it in bench/results/feedback-<relay>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from bench.flood_sender import FloodProcess
from bench.relays import RelayProcess, running_relay
from bench.report import emit, log, summary_ms
from bench.world import CopyIndex, World, landed, world
from sandbox.telegram import RequestRecord

# The separate flood sender's connections: enough to keep the emulator taking messages
# back to back, few enough that relaydesk's calls are served between them.
SENDER_CONNECTIONS = 2
# Messages per request: an HTTP request costs the emulator ~5x what making the message does,
# so one a request would spread the flood over ~0.2 s instead of queueing it at once.
SENDER_BATCH = 10
SENDERS = ("process", "in_process")


@dataclass(frozen=True)
class FloodSender:
    """Where the flood is made ("process" or "in_process"); the separate process's
    connections and messages per request."""

    where: str = "process"
    connections: int = SENDER_CONNECTIONS
    batch: int = SENDER_BATCH

    def describe(self) -> str:
        if self.where == "in_process":
            return "the emulator's own process (in-process user_send, 50 at a time)"
        each = ("POST /_control/user_send, one message a request" if self.batch <= 1 else
                f"POST /_control/user_send_many, {self.batch} messages a request")
        return (f"a separate process, {each}, over {self.connections} keep-alive "
                "connections, each sending its next as soon as the last is taken")


OFF = "\ncsat: {enabled: false}\nabuse: {enabled: false}\n"
ON = """
canned:
  hello:
    en: "Hello {{ customer.first_name }}! I'm {{ operator.first_name }}. How can I help?"
"""


class Sends:
    """The emulator's sendMessage calls into one chat after a moment."""

    def __init__(self, w: World) -> None:
        self._emu = w.emu

    async def after(self, chat: int, t0: float, relay: RelayProcess, starts: str
                    ) -> RequestRecord:
        def ready() -> RequestRecord | None:
            relay.check_alive()
            for record in reversed(self._emu.requests):
                if record.time < t0:
                    return None
                if record.method == "sendMessage" and record.ok and str(
                        record.chat_id) == str(chat) and str(
                        record.params.get("text", "")).startswith(starts):
                    return record
            return None

        found: RequestRecord = await self._emu.wait_for(ready, 20, f"{starts!r} to {chat}")
        return found


def _messages_posted(record: RequestRecord) -> int:
    """Messages a call put into a chat (copyMessages carries many)."""
    if record.method in ("copyMessage", "sendMessage", "sendPhoto", "sendDocument"):
        return 1
    if record.method == "copyMessages":
        raw = record.params["message_ids"]
        return len(json.loads(raw) if isinstance(raw, str) else raw)
    return 0


async def _opened(w: World, relay: RelayProcess, count: int) -> tuple[list[Any], dict[int, int]]:
    index, customers, topics = CopyIndex(w.emu), [], {}
    for _ in range(count):
        c = w.customer("Warm")
        msg = await w.emu.user_send(c, c.id, text=f"hello from {c.first_name}")
        record = await index.wait(w.group, c.id, msg["message_id"], alive=relay.check_alive)
        customers.append(c)
        topics[c.id] = int(record.params["message_thread_id"])
    return customers, topics


async def _to_topics(w: World, relay: RelayProcess, customers: list[Any], rounds: int,
                     starts: list[float] | None = None) -> list[float]:
    """Latencies; `starts` (when given) gets each sample's start (monotonic)."""
    index, out = CopyIndex(w.emu), []
    for n in range(rounds):
        c = customers[n % len(customers)]
        t0 = time.monotonic()
        if starts is not None:
            starts.append(t0)
        msg = await w.emu.user_send(c, c.id, text=f"c2t {n} from {c.first_name}")
        record = await index.wait(w.group, c.id, msg["message_id"], alive=relay.check_alive)
        out.append(landed(record) - t0)
    return out


async def _to_customers(w: World, relay: RelayProcess, customers: list[Any],
                        topics: dict[int, int], rounds: int) -> list[float]:
    index, out = CopyIndex(w.emu), []
    for n in range(rounds):
        c = customers[n % len(customers)]
        t0 = time.monotonic()
        msg = await w.emu.user_send(w.operator, w.group, text=f"o2c {n}",
                                    thread_id=topics[c.id])
        record = await index.wait(c.id, w.group, msg["message_id"], alive=relay.check_alive)
        out.append(landed(record) - t0)
    return out


async def _first_messages(w: World, relay: RelayProcess, rounds: int) -> list[float]:
    index, out = CopyIndex(w.emu), []
    for n in range(rounds):
        c = w.customer("First")
        t0 = time.monotonic()
        msg = await w.emu.user_send(c, c.id, text=f"first {n}: hello, I need help")
        record = await index.wait(w.group, c.id, msg["message_id"], alive=relay.check_alive)
        out.append(landed(record) - t0)
    return out


async def _typed(w: World, relay: RelayProcess, customers: list[Any], topics: dict[int, int],
                 rounds: int, command: str, starts: str) -> list[float]:
    """An operator command in a customer's topic → a sendMessage into their chat."""
    sends, out = Sends(w), []
    for n in range(rounds):
        c = customers[n % len(customers)]
        t0 = time.monotonic()
        await w.emu.user_send(w.operator, w.group, text=command, thread_id=topics[c.id])
        record = await sends.after(c.id, t0, relay, starts)
        out.append(landed(record) - t0)
    return out


async def _latency(kind: str, extra: str, samples: int, warmup: int, customers: int,
                   first: int, on: bool) -> dict[str, list[float]]:
    async with world() as w, running_relay(kind, w, extra_config=extra) as relay:
        warm, topics = await _opened(w, relay, customers)
        out = {
            "customer_to_topic": (await _to_topics(w, relay, warm, warmup + samples))[warmup:],
            "operator_to_customer": (await _to_customers(w, relay, warm, topics,
                                                         warmup + samples))[warmup:],
            "first_message": await _first_messages(w, relay, first),
        }
        if on:
            out["t_hello_to_customer"] = (await _typed(
                w, relay, warm, topics, warmup + samples, "/t hello", "Hello "))[warmup:]
            # Each customer's conversation closes once: one survey each.
            out["close_to_survey_question"] = await _typed(
                w, relay, warm, topics, len(warm), "/close", "How did we do?")
        return out


async def _flood(kind: str, extra: str, samples: int, warmup: int, customers: int,
                 flood: int, sender: FloodSender) -> dict[str, Any]:
    async with world() as w, running_relay(kind, w, extra_config=extra) as relay:
        warm, _ = await _opened(w, relay, customers)
        quiet = (await _to_topics(w, relay, warm, warmup + samples))[warmup:]
        flooder = w.customer("Flooder")
        await w.emu.user_send(flooder, flooder.id, text="flood start")
        process = None
        if sender.where == "process":
            process = await FloodProcess.ready(w.emu.base_url, flooder.id, flood,
                                               sender.connections, sender.batch)
        try:
            started = time.monotonic()
            task = asyncio.create_task(
                _flood_by(process, flood) if process else _flood_in_process(w, flooder, flood))
            confirmed = asyncio.create_task(_all_confirmed(w, relay, task, flooder.id))
            starts: list[float] = []
            during = await _to_topics(w, relay, warm, samples, starts)
            sent_in = await task - started
            confirmed_in = await confirmed - started
        finally:
            if process:
                await process.close()
        await asyncio.sleep(3)  # the combined posts
        posts = sum(_messages_posted(r) for r in w.emu.requests if r.ok and r.time >= started
                    and str(r.chat_id) == str(w.group))
        return _flood_result(quiet, during, starts, started, {
            "flood_messages": flood, "flood_sent_by": sender.describe(),
            "flood_sent_in_s": round(sent_in, 3),
            "flood_confirmed_in_s": round(confirmed_in, 3),
            "group_messages_after_flood_start": posts,
            **({"flood_sender_cpu_s": round(process.result["cpu_s"], 3)} if process else {})})


def _flood_result(quiet: list[float], during: list[float], starts: list[float],
                  started: float, flood: dict[str, Any]) -> dict[str, Any]:
    quiet_ms, during_ms = summary_ms(quiet), summary_ms(during)
    return {"quiet": quiet_ms, "during_flood": during_ms, **flood,
            # (start after the flood began in s, latency in ms) of each sample over 2x
            # the quiet p99: what the flood costs others, and when.
            "samples_over_2x_quiet_p99": [
                [round(t0 - started, 3), round(s * 1000, 1)]
                for t0, s in zip(starts, during, strict=True)
                if s * 1000 > 2 * quiet_ms["p99_ms"]],
            "p99_ratio": round(during_ms["p99_ms"] / quiet_ms["p99_ms"], 2)}


async def _flood_by(process: FloodProcess, flood: int) -> float:
    """The separate sender's flood; when its last message was taken (monotonic)."""
    result = await process.go()
    if result["sent"] != flood:
        raise RuntimeError(f"the flood sender sent {result['sent']} of {flood}")
    return result["last_answer"]


async def _flood_in_process(w: World, flooder: Any, flood: int) -> float:
    """The flood made by the emulator's own process, 50 sends at a time (the bench before
    the separate sender: that process is busy making it while relaydesk waits on it)."""
    for start in range(0, flood, 50):
        await asyncio.gather(*(w.emu.user_send(flooder, flooder.id, text=f"f {n}")
                               for n in range(start, min(start + 50, flood))))
    return time.monotonic()


async def _all_confirmed(w: World, relay: RelayProcess, flooding: asyncio.Task[float],
                         flooder: int) -> float:
    """When relaydesk has confirmed every update of the flood (handled and committed: the
    poller moves the offset only then), to 5 ms: how long the flood's updates stand in the
    Bot API's queue in front of other customers' messages."""
    await flooding
    last = max((u["update_id"] for u in w.emu.pending_updates()
                if (u.get("message") or {}).get("chat", {}).get("id") == flooder), default=-1)
    while (pending := w.emu.pending_updates()) and pending[0]["update_id"] <= last:
        relay.check_alive()
        await asyncio.sleep(0.005)
    return time.monotonic()


async def run(kind: str, samples: int, warmup: int, customers: int, first: int,
              rounds: int, flood: int, only_flood: bool = False,
              sender: FloodSender = FloodSender()) -> dict[str, Any]:
    result: dict[str, Any] = {"relay": kind, "params": {
        "samples_per_round": samples, "warmup": warmup, "customers": customers,
        "first": first, "rounds": rounds, "flood": flood, "rate_limits": "off",
        "flood_sender": sender.where, "flood_sender_connections": sender.connections,
        "flood_sender_batch": sender.batch}}
    if not only_flood:
        await _latencies(result, kind, samples, warmup, customers, first, rounds)
    for name, extra in (("on", ON), ("off", OFF)):
        log(f"[feedback:{kind}] flood of {flood}, capabilities {name}")
        # Enough customers that the samples themselves stay under the flood limit
        # (20 per 10 s each): ~9 messages per customer over both phases.
        result[f"flood_{name}"] = await _flood(kind, extra, samples, warmup,
                                               max(customers, 50), flood, sender)
    return result


async def _latencies(result: dict[str, Any], kind: str, samples: int, warmup: int,
                     customers: int, first: int, rounds: int) -> None:
    pooled: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
    for r in range(rounds):
        for name, extra in (("off", OFF), ("on", ON)):
            log(f"[feedback:{kind}] latency, capabilities {name}, round {r + 1}/{rounds}")
            got = await _latency(kind, extra, samples, warmup, customers, first, name == "on")
            for key, values in got.items():
                pooled[name].setdefault(key, []).extend(values)
    result["latency"] = {name: {key: summary_ms(values) for key, values in paths.items()}
                         for name, paths in pooled.items()}
    result["added_p50_ms"] = {
        key: round(result["latency"]["on"][key]["p50_ms"]
                   - result["latency"]["off"][key]["p50_ms"], 3)
        for key in ("customer_to_topic", "operator_to_customer", "first_message")}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.feedback")
    parser.add_argument("--relay", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--first", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--flood", type=int, default=1000)
    parser.add_argument("--only-flood", action="store_true",
                        help="skip the latency part: the flood runs only (kept apart, in "
                             "bench/results/feedback-flood-<relay>.json)")
    parser.add_argument("--flood-sender", choices=SENDERS, default="process",
                        help="where the flood is made: a separate process posting to the "
                             "emulator over HTTP (default), or the emulator's own process "
                             "(the bench before, for comparison)")
    parser.add_argument("--flood-connections", type=int, default=SENDER_CONNECTIONS,
                        help="the separate sender's connections")
    parser.add_argument("--flood-batch", type=int, default=SENDER_BATCH,
                        help="the separate sender's messages per request")
    args = parser.parse_args()
    name = f"feedback-flood-{args.relay}" if args.only_flood else f"feedback-{args.relay}"
    emit(name, asyncio.run(run(
        args.relay, args.samples, args.warmup, args.customers, args.first, args.rounds,
        args.flood, args.only_flood,
        FloodSender(args.flood_sender, args.flood_connections, args.flood_batch))))


if __name__ == "__main__":
    main()

"""Relay latency, one message at a time, rate limits off.

    .venv/bin/python -m bench.relay_latency --relay floor|sqlite|postgres

- customer → topic: warmed-up customers (their topic exists) write one message each in
  turn; t0 is taken just before `emu.user_send` queues the update, t1 is the end of the
  emulator's handling of the copyMessage(s) that put the copy into the group.
- operator → customer: the operator writes in those customers' topics; t1 is the end of the
  copyMessage into the customer's private chat.
- first message: a new customer each sample (topic + card + copy for relaydesk; topic +
  copy for the floor), t1 as for customer → topic.

Each customer's messages must stay under the flood limit (`abuse.max_messages`, 20 in 10 s
by default: the excess would be combined, not copied): the defaults send 11 per customer.

Samples are sequential and closed-loop by default: the next message is sent as soon as the
previous one has landed (`--gap 0`). That is how the issue's reference figures were taken
(the floor relay measures 1.1–1.4 ms p50 this way, as the issue's 1.3 ms). With an idle gap
(`--gap 0.02`) every figure, the floor's included, grows by ~2 ms on this VM: an idle vCPU
is descheduled and each sample starts with cold caches (measured: one loopback Bot API round
trip takes 0.35 ms back to back and 1.4 ms after 20 ms idle).
Per sample, the emulator's own request log splits the time into: update delivery (t0 → the
getUpdates answer that carried it), relay work (→ the copy request arrives), the copy call
itself, and for relaydesk the intake commit (→ the next getUpdates, which DurablePoller only
sends once the batch is committed).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import time
from dataclasses import dataclass
from typing import Any

from bench.relays import RelayProcess, peak_mb, relay_arg, running_relay
from bench.report import emit, log, summary_ms
from bench.world import CopyIndex, World, calls_by_method, landed, world
from sandbox.telegram import RequestRecord


@dataclass
class Sample:
    t0: float
    copy: RequestRecord

    @property
    def latency(self) -> float:
        return landed(self.copy) - self.t0


def breakdown(samples: list[Sample], polls: list[RequestRecord]) -> dict[str, Any]:
    """Median split of the samples' latency using the getUpdates calls around them."""
    polls = sorted(polls, key=lambda r: r.time)
    starts = [r.time for r in polls]
    ends = sorted(landed(r) for r in polls)
    deliver, relay_work, copy_call, next_poll = [], [], [], []
    for s in samples:
        i = bisect.bisect_left(ends, s.t0)  # the first poll answered after t0 carried it
        if i >= len(ends):
            continue
        delivered = ends[i]
        deliver.append(delivered - s.t0)
        relay_work.append(s.copy.time - delivered)
        copy_call.append(s.copy.duration)
        j = bisect.bisect_left(starts, delivered)
        if j < len(starts) and starts[j] <= landed(s.copy) + 1.0:
            next_poll.append(starts[j] - delivered)

    def med(values: list[float]) -> float | None:
        return round(summary_ms(values)["p50_ms"], 3) if values else None

    return {
        "update_delivery_p50_ms": med(deliver),
        "relay_work_until_copy_request_p50_ms": med(relay_work),
        "copy_call_in_emulator_p50_ms": med(copy_call),
        "update_handled_until_next_getUpdates_p50_ms": med(next_poll),
    }


def _cpu_per_message(marks: list[float | None], counts: list[int]) -> dict[str, float | None]:
    names = ("customer_to_topic", "operator_to_customer", "first_message")
    out: dict[str, float | None] = {}
    for i, name in enumerate(names):
        a, b = marks[i], marks[i + 1]
        out[name] = round((b - a) * 1000 / counts[i], 2) if a is not None and b is not None \
            else None
    return out


async def _customer_to_topic(w: World, relay: RelayProcess, index: CopyIndex, customers: list,
                             rounds: int, gap: float) -> list[Sample]:
    out = []
    for n in range(rounds):
        c = customers[n % len(customers)]
        await asyncio.sleep(gap)
        t0 = time.monotonic()
        msg = await w.emu.user_send(c, c.id, text=f"c2t {n} from {c.first_name}")
        record = await index.wait(w.group, c.id, msg["message_id"], alive=relay.check_alive)
        out.append(Sample(t0, record))
    return out


async def _operator_to_customer(w: World, relay: RelayProcess, index: CopyIndex,
                                customers: list, topics: dict[int, int], rounds: int,
                                gap: float) -> list[Sample]:
    out = []
    for n in range(rounds):
        c = customers[n % len(customers)]
        await asyncio.sleep(gap)
        t0 = time.monotonic()
        msg = await w.emu.user_send(w.operator, w.group, text=f"o2c {n} to {c.first_name}",
                                    thread_id=topics[c.id])
        record = await index.wait(c.id, w.group, msg["message_id"], alive=relay.check_alive)
        out.append(Sample(t0, record))
    return out


async def _first_messages(w: World, relay: RelayProcess, index: CopyIndex, rounds: int,
                          gap: float) -> list[Sample]:
    out = []
    for n in range(rounds):
        c = w.customer("First")
        await asyncio.sleep(gap)
        t0 = time.monotonic()
        msg = await w.emu.user_send(c, c.id, text=f"first {n}: hello, I need help")
        record = await index.wait(w.group, c.id, msg["message_id"], alive=relay.check_alive)
        out.append(Sample(t0, record))
    return out


async def run(relay_kind: str, *, samples: int = 200, warmup: int = 20, customers: int = 20,
              first: int = 50, gap: float = 0.0) -> dict[str, Any]:
    async with world() as w, running_relay(relay_kind, w) as relay:
        emu, index = w.emu, CopyIndex(w.emu)
        log(f"[relay_latency:{relay_kind}] relay up (pid {relay.pid}); opening "
            f"{customers} conversations")
        warm = [w.customer("Warm") for _ in range(customers)]
        topics: dict[int, int] = {}
        for c in warm:
            msg = await emu.user_send(c, c.id, text=f"hello from {c.first_name}")
            record = await index.wait(w.group, c.id, msg["message_id"], alive=relay.check_alive)
            topics[c.id] = int(record.params["message_thread_id"])
        since = len(emu.requests)
        log(f"[relay_latency:{relay_kind}] customer→topic: {warmup} warm-up + {samples}")
        cpu = [relay.cpu_seconds()]
        c2t = (await _customer_to_topic(w, relay, index, warm, warmup + samples, gap))[warmup:]
        cpu.append(relay.cpu_seconds())
        log(f"[relay_latency:{relay_kind}] operator→customer: {warmup} warm-up + {samples}")
        o2c = (await _operator_to_customer(w, relay, index, warm, topics, warmup + samples,
                                           gap))[warmup:]
        cpu.append(relay.cpu_seconds())
        log(f"[relay_latency:{relay_kind}] first messages: {first}")
        fm = await _first_messages(w, relay, index, first, gap)
        await asyncio.sleep(0.1)
        cpu.append(relay.cpu_seconds())
        await asyncio.sleep(0.3)  # let the last sends finish before the accounting
        polls = [r for r in emu.requests if r.method == "getUpdates"]
        duplicates = sum(n - 1 for n in index.duplicates.values())
        result = {
            "relay": relay_kind,
            "params": {"samples": samples, "warmup": warmup, "warm_customers": customers,
                       "first_message_samples": first, "gap_s": gap, "rate_limits": "off"},
            "customer_to_topic": {**summary_ms([s.latency for s in c2t]),
                                  "breakdown": breakdown(c2t, polls)},
            "operator_to_customer": {**summary_ms([s.latency for s in o2c]),
                                     "breakdown": breakdown(o2c, polls)},
            "first_message": {**summary_ms([s.latency for s in fm]),
                              "breakdown": breakdown(fm, polls)},
            # CPU the relay process used per message over each phase (warm-ups included)
            "relay_cpu_ms_per_message": _cpu_per_message(
                cpu, [warmup + samples, warmup + samples, first]),
            "duplicate_copies": duplicates,
            "bot_api_calls_during_samples": calls_by_method(emu, since),
            "peak_rss_mb": peak_mb(relay),
        }
    result["relay_exit_code"] = relay.extra.get("exit_code")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="relay latency benchmark (prints JSON)")
    relay_arg(parser)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--customers", type=int, default=20, help="warmed-up customers")
    parser.add_argument("--first", type=int, default=50, help="first-message samples")
    parser.add_argument("--gap", type=float, default=0.0,
                        help="idle seconds between samples (0: closed loop)")
    args = parser.parse_args()
    result = asyncio.run(run(args.relay, samples=args.samples, warmup=args.warmup,
                             customers=args.customers, first=args.first, gap=args.gap))
    emit(f"relay_latency-{args.relay}", result)


if __name__ == "__main__":
    main()

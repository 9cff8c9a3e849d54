"""The MAX channel: customer → topic and operator → customer latency, and operator answers
to many MAX customers at the bot's 30 requests/s.

    .venv/bin/python -m bench.max --relay sqlite|postgres

- latency (rate limits off in relaydesk and in both emulators), MAX and Telegram customers
  taking turns on one relay: a MAX customer's message to its topic (t0 just before the
  emulator queues the update, t1 the end of the desk call that put it into its topic:
  sendMessage, MAX messages are rendered); the operator's answer in a topic to MAX (t0 just
  before the Telegram emulator queues the operator's message, t1 the end of the
  `POST /messages` that delivered it to MAX); the same two for Telegram customers.
  Phased (the headline figures), as bench.relay_latency measures Telegram: first every
  customer writes (warm-up, then samples: a customer already waiting writes again), then
  the operator answers each (a conversation answered before). `alternating`: each message
  answered at once, so every message starts or ends a wait (intake's general path).
- answers: `--customers` MAX customers with a topic each; the operator answers each once, as
  fast as the Telegram emulator takes it; relaydesk runs with MAX's budget (30/s, every
  request: sends and long polls) and the MAX emulator enforces it. Reported: the time from
  the first answer written to the last send landed, the minimum the budget allows for that
  many sends, the most MAX requests in any 1 s window and the emulator's violations.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

from bench.relays import relay_arg, running_relay
from bench.report import emit, log, summary_ms
from bench.world import CopyIndex, landed, world
from sandbox.max import MaxEmulator

OPEN_RATE = "{count: 1000, per: 1s}"
MAX_RATE = 30


def max_section(emu: MaxEmulator, token: str, rate: str) -> str:
    return f"""max:
  token: "{token}"
  api_server: "{emu.base_url}"
  poll_timeout: 25s
  rate: {rate}
"""


def _sent_to_desk(w: Any, text: str) -> Any:
    for record in reversed(w.emu.requests):
        if record.ok and record.method == "sendMessage" and record.params.get("text") == text:
            return record
    return None


def _sent_to_max(emu: MaxEmulator, text: str) -> Any:
    for record in reversed(emu.requests):
        if record.ok and record.method == "POST /messages" and \
                (record.body or {}).get("text") == text:
            return record
    return None


class _Latency:
    """One relay with warmed-up MAX and Telegram customers (topic and card exist), and the
    four one-message measurements on it."""

    def __init__(self, w: Any, emu: MaxEmulator, relay: Any, warm: int, gap: float) -> None:
        self.w, self.emu, self.relay, self.gap = w, emu, relay, gap
        self.index = CopyIndex(w.emu)
        self.max_people = [emu.add_user(f"Max{i}", "Bench") for i in range(warm)]
        self.tg_people = [w.customer("Tg") for _ in range(warm)]
        # The alternating samples' own customers: nobody goes over the flood limit
        # (abuse.max_messages, 20 in 10 s), which would combine messages, not relay them.
        self.max_others = [emu.add_user(f"MaxAlt{i}", "Bench") for i in range(warm)]
        self.tg_others = [w.customer("TgAlt") for _ in range(warm)]
        self.topics: dict[int, int] = {}  # MAX user id → topic
        self.tg_topics: dict[int, int] = {}
        self.n = 0

    async def warm_up(self) -> None:
        for person in self.max_people + self.max_others:
            self.emu.user_send(person, f"hello {person.user_id}")
            record = await self.w.emu.wait_for(
                lambda p=person: _sent_to_desk(self.w, f"hello {p.user_id}"), 20)
            self.topics[person.user_id] = int(record.params["message_thread_id"])
        for user in self.tg_people + self.tg_others:
            msg = await self.w.emu.user_send(user, user.id, text=f"hello {user.id}")
            record = await self.index.wait(self.w.group, user.id, msg["message_id"], 20)
            self.tg_topics[user.id] = int(record.params["message_thread_id"])

    async def max_to_topic(self, person: Any) -> float:
        self.n += 1
        text = f"max {self.n} from {person.user_id}"
        await asyncio.sleep(self.gap)
        t0 = time.monotonic()
        self.emu.user_send(person, text)
        record = await self.w.emu.wait_for(lambda: _sent_to_desk(self.w, text), 10, text)
        return landed(record) - t0

    async def operator_to_max(self, person: Any) -> float:
        self.n += 1
        answer = f"answer {self.n} to {person.user_id}"
        await asyncio.sleep(self.gap)
        t0 = time.monotonic()
        await self.w.emu.user_send(self.w.operator, self.w.group, text=answer,
                                   thread_id=self.topics[person.user_id])

        def sent() -> Any:
            self.relay.check_alive()
            return _sent_to_max(self.emu, answer)

        record = await self.emu.wait_for(sent, 10, answer)
        return landed(record) - t0

    async def telegram_to_topic(self, user: Any) -> float:
        self.n += 1
        await asyncio.sleep(self.gap)
        t0 = time.monotonic()
        msg = await self.w.emu.user_send(user, user.id, text=f"tg {self.n} from {user.id}")
        record = await self.index.wait(self.w.group, user.id, msg["message_id"],
                                       alive=self.relay.check_alive)
        return landed(record) - t0

    async def operator_to_telegram(self, user: Any) -> float:
        self.n += 1
        await asyncio.sleep(self.gap)
        t0 = time.monotonic()
        msg = await self.w.emu.user_send(self.w.operator, self.w.group,
                                         text=f"answer {self.n} to {user.id}",
                                         thread_id=self.tg_topics[user.id])
        record = await self.index.wait(user.id, self.w.group, msg["message_id"],
                                       alive=self.relay.check_alive)
        return landed(record) - t0

    async def phased(self, samples: int, warmup: int) -> dict[str, Any]:
        """As bench.relay_latency measures Telegram: every customer writes (a customer
        already waiting writes again), then the operator answers (a conversation answered
        before): intake's common cases. A MAX and a Telegram message take turns."""
        m2t, t2t, o2m, o2t = [], [], [], []
        for k in range(warmup + samples):
            person, user = self.max_people[k % len(self.max_people)], \
                self.tg_people[k % len(self.tg_people)]
            m2t.append(await self.max_to_topic(person))
            t2t.append(await self.telegram_to_topic(user))
        for k in range(warmup + samples):
            person, user = self.max_people[k % len(self.max_people)], \
                self.tg_people[k % len(self.tg_people)]
            o2m.append(await self.operator_to_max(person))
            o2t.append(await self.operator_to_telegram(user))
        return _four(m2t[warmup:], o2m[warmup:], t2t[warmup:], o2t[warmup:])

    async def alternating(self, samples: int, warmup: int) -> dict[str, Any]:
        """Each message answered at once: every customer message starts a wait and every
        answer ends one (intake's general path on PostgreSQL, for either platform)."""
        m2t, t2t, o2m, o2t = [], [], [], []
        for k in range(warmup + samples):
            person, user = self.max_others[k % len(self.max_others)], \
                self.tg_others[k % len(self.tg_others)]
            m2t.append(await self.max_to_topic(person))
            o2m.append(await self.operator_to_max(person))
            t2t.append(await self.telegram_to_topic(user))
            o2t.append(await self.operator_to_telegram(user))
        return _four(m2t[warmup:], o2m[warmup:], t2t[warmup:], o2t[warmup:])


def _four(m2t: list[float], o2m: list[float], t2t: list[float], o2t: list[float]
          ) -> dict[str, Any]:
    return {"max_customer_to_topic": summary_ms(m2t),
            "operator_to_max_customer": summary_ms(o2m),
            "telegram_customer_to_topic": summary_ms(t2t),
            "operator_to_telegram_customer": summary_ms(o2t)}


def _per_message(before: float | None, after: float | None, messages: int) -> float | None:
    if before is None or after is None:
        return None
    return round((after - before) * 1000 / messages, 3)


async def latency(kind: str, samples: int, warm: int, gap: float) -> dict[str, Any]:
    emu = MaxEmulator()
    await emu.start()
    emu.set_rate_limit(False)
    bot = emu.add_bot("Support")
    try:
        async with world() as w, running_relay(
            kind, w, extra_config=max_section(emu, bot.token, OPEN_RATE)
        ) as relay:
            bench = _Latency(w, emu, relay, warm, gap)
            await bench.warm_up()
            log(f"[max:{kind}] {samples} samples each way, phased then alternating")
            cpu = [relay.cpu_seconds()]
            phased = await bench.phased(samples, warmup=warm)
            cpu.append(relay.cpu_seconds())
            alternating = await bench.alternating(samples, warmup=warm)
            cpu.append(relay.cpu_seconds())
            params = {"samples": samples, "warm_customers": warm, "gap_s": gap,
                      "rate_limits": "off"}
            return {**phased, "alternating": alternating, "params": params,
                    # CPU the relay used per message (warm-up included): steadier than
                    # latency on a shared machine.
                    "relay_cpu_ms_per_message": {
                        "phased": _per_message(cpu[0], cpu[1], 4 * (warm + samples)),
                        "alternating": _per_message(cpu[1], cpu[2], 4 * (warm + samples))}}
    finally:
        await emu.stop()


async def answers(kind: str, customers: int) -> dict[str, Any]:
    emu = MaxEmulator()
    await emu.start()
    bot = emu.add_bot("Support")
    try:
        async with world() as w, running_relay(
            kind, w, extra_config=max_section(emu, bot.token, f"{{count: {MAX_RATE}, per: 1s}}")
        ) as relay:
            people = [emu.add_user(f"Max{i}", "Bench") for i in range(customers)]
            for person in people:
                emu.user_send(person, f"question {person.user_id}")
            await w.emu.wait_for(
                lambda: all(_sent_to_desk(w, f"question {p.user_id}") for p in people), 120,
                "every question has a topic")
            topics = {p.user_id: int(_sent_to_desk(w, f"question {p.user_id}").params[
                "message_thread_id"]) for p in people}
            await asyncio.sleep(1.5)  # the intake's requests leave the 1 s window
            emu.clear_requests()
            log(f"[max:{kind}] {customers} answers at {MAX_RATE} requests/s")
            t0 = time.monotonic()
            for person in people:
                await w.emu.user_send(w.operator, w.group, text=f"answer {person.user_id}",
                                      thread_id=topics[person.user_id])

            def done() -> bool:
                relay.check_alive()
                return len(emu.calls("POST /messages", ok=True)) >= customers

            await emu.wait_for(done, 120, "every answer sent")
            sends = emu.calls("POST /messages", ok=True)
            t_end = max(landed(r) for r in sends)
            times = sorted(r.time for r in emu.requests)
            busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
            # At 30 requests/s, n sends take n / 30 s; a sliding window lets request k (from
            # 0) go at floor(k / 30) s at the earliest, so the last one lands no sooner.
            minimum = customers / MAX_RATE
            took = t_end - t0
            return {
                "customers": customers,
                "answers_delivered": sum(1 for p in people if emu.sent_to(p)),
                "seconds_first_answer_to_last_send": round(took, 2),
                "minimum_seconds_at_30_per_s": round(minimum, 2),
                "earliest_last_send_s": math.floor((customers - 1) / MAX_RATE),
                "over_minimum_percent": round((took - minimum) / minimum * 100, 1),
                "max_requests": len(times),
                "max_requests_in_any_1s_window": busiest,
                "emulator_rate_violations": len(emu.violations),
                "rejected_429": len([r for r in emu.requests if r.status == 429]),
            }
    finally:
        await emu.stop()


async def run(kind: str, samples: int, warm: int, gap: float, customers: int
              ) -> dict[str, Any]:
    return {
        "relay": kind,
        "latency": await latency(kind, samples, warm, gap),
        "answers_at_30_per_s": await answers(kind, customers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="MAX channel benchmark (prints JSON)")
    relay_arg(parser, floor=False)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.0,
                        help="idle seconds between samples (0: closed loop)")
    parser.add_argument("--customers", type=int, default=100)
    args = parser.parse_args()
    result = asyncio.run(run(args.relay, args.samples, args.warm, args.gap, args.customers))
    emit(f"max-{args.relay}", result)


if __name__ == "__main__":
    main()

"""What self-service costs on the relay path: `python -m bench.faq.relay --relay sqlite|postgres`.

Two relaydesk processes in turn, each against the Telegram emulator with rate limits off,
samples sequential and closed-loop (as bench/relay_latency.py):

- without an FAQ (today's relay): customer → topic, warmed-up customers whose topic exists;
- with the coworking FAQ (bench/faq/coworking.yaml):
  - customer → bot answer: customers the bot holds ask a question it answers; t0 just
    before the update is queued, t1 the end of the sendMessage that carries the answer
    (intake on the general path, the match, the queued answer sent);
  - customer → topic, for customers handed over (the common path with the FAQ loaded).

Also the relays' peak RSS (the FAQ's memory, dictionary included). Prints JSON and keeps it
in bench/results/faq_relay-<relay>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from bench.faq import HERE
from bench.relays import RelayProcess, peak_mb, running_relay
from bench.report import emit, log, summary_ms
from bench.world import CopyIndex, World, landed, world
from sandbox.telegram import RequestRecord

QUESTIONS = ("парковка?", "сколько стоит абонемент на месяц", "какой пароль от wifi?",
             "где вы находитесь?", "можно прийти с собакой?", "есть душ?",
             "how much is a day pass?", "do you have lockers?")


def faq_config() -> str:
    text = Path(HERE / "coworking.yaml").read_text(encoding="utf-8")
    return text[text.index("\nfaq:"):]


class Answers:
    """The emulator's sendMessage calls into customers' chats, found by chat and time."""

    def __init__(self, w: World) -> None:
        self._emu = w.emu
        self._pos = 0

    async def after(self, chat: int, t0: float, relay: RelayProcess) -> RequestRecord:
        def ready() -> RequestRecord | None:
            relay.check_alive()
            records = self._emu.requests
            while self._pos < len(records):
                record = records[self._pos]
                if record.method == "sendMessage" and record.ok and record.time >= t0 \
                        and str(record.chat_id) == str(chat):
                    self._pos += 1
                    return record
                self._pos += 1
            return None

        found: RequestRecord = await self._emu.wait_for(ready, 10, f"an answer to {chat}")
        return found


async def _to_topics(w: World, relay: RelayProcess, customers: list[Any], rounds: int
                     ) -> list[float]:
    index, out = CopyIndex(w.emu), []
    for n in range(rounds):
        c = customers[n % len(customers)]
        t0 = time.monotonic()
        msg = await w.emu.user_send(c, c.id, text=f"c2t {n} from {c.first_name}")
        record = await index.wait(w.group, c.id, msg["message_id"], alive=relay.check_alive)
        out.append(landed(record) - t0)
    return out


async def _opened(w: World, relay: RelayProcess, count: int, first: str) -> list[Any]:
    """Customers with a topic (their first message handed over or relayed)."""
    index, customers = CopyIndex(w.emu), []
    for _ in range(count):
        c = w.customer("Warm")
        msg = await w.emu.user_send(c, c.id, text=first)
        await index.wait(w.group, c.id, msg["message_id"], alive=relay.check_alive)
        customers.append(c)
    return customers


async def _bot_answers(w: World, relay: RelayProcess, count: int, rounds: int) -> list[float]:
    answers, customers, out = Answers(w), [], []
    for _ in range(count):  # each says hello first: the bot holds their conversation
        c = w.customer("Bot")
        t0 = time.monotonic()
        await w.emu.user_send(c, c.id, text="привет")
        await answers.after(c.id, t0, relay)
        customers.append(c)
    for n in range(rounds):
        c = customers[n % len(customers)]
        t0 = time.monotonic()
        await w.emu.user_send(c, c.id, text=QUESTIONS[n % len(QUESTIONS)])
        record = await answers.after(c.id, t0, relay)
        out.append(landed(record) - t0)
    return out


async def run(kind: str, samples: int, warmup: int, customers: int) -> dict[str, Any]:
    result: dict[str, Any] = {"relay": kind, "params": {
        "samples": samples, "warmup": warmup, "customers": customers, "rate_limits": "off"}}
    async with world() as w, running_relay(kind, w) as relay:
        log(f"[faq_relay:{kind}] without an FAQ")
        warm = await _opened(w, relay, customers, "hello, I need help")
        plain = (await _to_topics(w, relay, warm, warmup + samples))[warmup:]
        result["without_faq"] = {"customer_to_topic": summary_ms(plain),
                                 "peak_rss_mb": peak_mb(relay)}
    async with world() as w, running_relay(kind, w, extra_config=faq_config()) as relay:
        log(f"[faq_relay:{kind}] with the FAQ")
        bot = (await _bot_answers(w, relay, customers, warmup + samples))[warmup:]
        warm = await _opened(w, relay, customers, "позовите оператора")
        handed = (await _to_topics(w, relay, warm, warmup + samples))[warmup:]
        result["with_faq"] = {"customer_to_bot_answer": summary_ms(bot),
                              "customer_to_topic_after_hand_over": summary_ms(handed),
                              "peak_rss_mb": peak_mb(relay)}
    base = result["without_faq"]["customer_to_topic"]["p50_ms"]
    result["bot_answer_minus_relay_p50_ms"] = round(
        result["with_faq"]["customer_to_bot_answer"]["p50_ms"] - base, 3)
    result["peak_rss_growth_mb"] = round(
        (result["with_faq"]["peak_rss_mb"] or 0) - (result["without_faq"]["peak_rss_mb"] or 0),
        1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faq.relay")
    parser.add_argument("--relay", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--customers", type=int, default=20)
    args = parser.parse_args()
    emit(f"faq_relay-{args.relay}", asyncio.run(
        run(args.relay, args.samples, args.warmup, args.customers)))


if __name__ == "__main__":
    main()

"""Webhook mode against polling, and what metrics cost: customer → topic latency and the
relay's CPU per message, one message at a time, rate limits off.

    .venv/bin/python -m bench.webhook --relay sqlite|postgres [--samples 300]

Three runs of the same relay, one after another: `polling` (no http section), `polling +
metrics` (the http server with /metrics and health, scraped every 250 ms meanwhile) and
`webhook` (the emulator POSTs each update to relaydesk's route, /metrics scraped too).
Then `/metrics` itself: the scrape time with 10 000 open conversations' worth of outbox rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

import aiohttp

from bench.ports import free_port
from bench.relay_latency import _customer_to_topic
from bench.relays import relay_arg, running_relay
from bench.report import emit, log, summary_ms
from bench.world import CopyIndex, World, world

SECRET = "bench-webhook-secret"


async def _scrape_forever(port: int, times: list[float]) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            await asyncio.sleep(0.25)
            started = time.perf_counter()
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
                    await answer.read()
                    if answer.status == 200:
                        times.append(time.perf_counter() - started)


async def _one(kind: str, mode: str, samples: int, warmup: int) -> dict[str, Any]:
    port = free_port()
    http = "" if mode == "polling" else \
        f"http: {{listen: '127.0.0.1:{port}', public_url: 'http://127.0.0.1:{port}'}}\n"
    # 10 customers take turns in a closed loop, each writing every ~20 ms: abuse's flood
    # limit (20 in 10 s) would combine their messages, not relay them one by one.
    http += "abuse: {enabled: false}\n"
    telegram = "" if mode != "webhook" else (
        f"  mode: webhook\n  webhook: {{path: /tg, secret: {SECRET}, max_connections: 8}}\n")
    async with world() as w:
        w.emu.options.webhook_allow_http = True
        async with running_relay(kind, w, extra_config=http, telegram_extra=telegram) as relay:
            return await _measure(w, relay, mode, port, samples, warmup)


async def _measure(w: World, relay: Any, mode: str, port: int, samples: int,
                   warmup: int) -> dict[str, Any]:
    index = CopyIndex(w.emu)
    customers = [w.customer("Warm") for _ in range(10)]
    for c in customers:
        msg = await w.emu.user_send(c, c.id, text=f"hello from {c.first_name}")
        await index.wait(w.group, c.id, msg["message_id"], alive=relay.check_alive)
    scrapes: list[float] = []
    scraper = None if mode == "polling" else asyncio.create_task(_scrape_forever(port, scrapes))
    cpu0 = relay.cpu_seconds()
    got = await _customer_to_topic(w, relay, index, customers, warmup + samples, 0.0)
    cpu1 = relay.cpu_seconds()
    if scraper is not None:
        scraper.cancel()
    log(f"[webhook] {mode}: {samples} samples done")
    return {
        "customer_to_topic": summary_ms([s.latency for s in got[warmup:]]),
        "relay_cpu_ms_per_message": round((cpu1 - cpu0) * 1000 / (warmup + samples), 3)
        if cpu0 is not None and cpu1 is not None else None,
        "scrapes_during_run": len(scrapes),
        "scrape_http_p50_ms": summary_ms(scrapes)["p50_ms"] if scrapes else None,
    }


async def run(kind: str, samples: int, warmup: int) -> dict[str, Any]:
    out: dict[str, Any] = {"relay": kind, "params": {"samples": samples, "warmup": warmup,
                                                     "rate_limits": "off"}}
    for mode in ("polling", "polling+metrics", "webhook"):
        out[mode] = await _one(kind, mode, samples, warmup)
    base = out["polling"]["customer_to_topic"]["p50_ms"]
    out["webhook_minus_polling_p50_ms"] = round(
        out["webhook"]["customer_to_topic"]["p50_ms"] - base, 3)
    cpu, cpu_m = out["polling"]["relay_cpu_ms_per_message"], \
        out["polling+metrics"]["relay_cpu_ms_per_message"]
    if cpu and cpu_m:
        out["metrics_cpu_overhead_pct"] = round((cpu_m - cpu) * 100 / cpu, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="webhook vs polling, metrics cost (JSON)")
    relay_arg(parser, floor=False)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    emit(f"webhook_{args.relay}", asyncio.run(run(args.relay, args.samples, args.warmup)))


if __name__ == "__main__":
    main()

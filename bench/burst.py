"""Burst: 50 new customers × 5 messages sent at once, rate limits off.

    .venv/bin/python -m bench.burst --relay floor|sqlite|postgres [--repeat 3]

Every customer sends 5 messages in order; the 50 customers run concurrently
(`asyncio.gather`). The figure is the time from just before the first `emu.user_send` to the
end of the emulator's handling of the last copy into the group. Then the group is checked:
each message copied exactly once, into its customer's one topic, in the customer's order,
one topic per customer. The burst is repeated (`--repeat`, new customers each time, same
relay process) and the median burst is the figure; every burst is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from typing import Any

from bench.relays import RelayProcess, peak_mb, relay_arg, running_relay
from bench.report import emit, log, summary_ms
from bench.world import CopyIndex, World, calls_by_method, landed, world


async def _one_burst(w: World, relay: RelayProcess, index: CopyIndex, rep: int,
                     customers: int, per_customer: int, wait_s: float) -> dict[str, Any]:
    emu = w.emu
    users = [w.customer(f"Burst{rep}x") for _ in range(customers)]
    sent: dict[int, list[int]] = {}  # customer → their message ids, in order
    since = len(emu.requests)
    tag = f"r{rep}b"

    async def one(i: int) -> None:
        user = users[i]
        for j in range(per_customer):
            msg = await emu.user_send(user, user.id, text=f"{tag}{i:02d}-m{j}")
            sent.setdefault(i, []).append(int(msg["message_id"]))

    cpu0 = relay.cpu_seconds()
    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(customers)))
    expected = [(w.group, users[i].id, mid) for i, ids in sent.items() for mid in ids]

    def all_copied() -> bool:
        relay.check_alive()
        index.scan()
        return all(key in index.found for key in expected)

    timed_out = False
    try:
        await emu.wait_for(all_copied, wait_s, "every burst message copied")
    except TimeoutError:
        timed_out = True
    records = [index.found[k] for k in expected if k in index.found]
    finished = max((landed(r) for r in records), default=time.monotonic())
    cpu1 = relay.cpu_seconds()
    await asyncio.sleep(0.5)  # a late duplicate would show up here, and the relay settles
    index.scan()

    # Check what operators see: the group's messages, not the request log.
    copies = [m for m in emu.messages(w.group, from_bot=True)
              if str(m.get("text", "")).startswith(tag)]
    counts = Counter(m["text"] for m in copies)
    wanted = {f"{tag}{i:02d}-m{j}" for i in range(customers) for j in range(per_customer)}
    split, disorder = 0, 0
    for i in range(customers):
        mine = [m for m in copies if m["text"].startswith(f"{tag}{i:02d}-")]
        if len({m.get("message_thread_id") for m in mine}) > 1:
            split += 1
        order = list(dict.fromkeys(m["text"] for m in mine))
        if order != sorted(order):
            disorder += 1
    topics = {m.get("message_thread_id") for m in copies}
    return {
        "complete": not timed_out,
        "total_ms": round((finished - t0) * 1000, 1),
        "per_message_latency": summary_ms([landed(r) - t0 for r in records]),
        "copies": len(copies),
        "missing": len(wanted - set(counts)),
        "duplicates": sum(n - 1 for n in counts.values()),
        "customers_split_across_topics": split,
        "customers_out_of_order": disorder,
        "topics": len(topics),
        # CPU the relay process burnt until the last copy, per message (all threads)
        "relay_cpu_ms_per_message": round((cpu1 - cpu0) * 1000 / len(expected), 2)
        if cpu0 is not None and cpu1 is not None else None,
        "bot_api_calls": calls_by_method(emu, since),
    }


async def run(relay_kind: str, *, customers: int = 50, per_customer: int = 5,
              repeat: int = 3, wait_s: float = 60.0) -> dict[str, Any]:
    async with world() as w, running_relay(relay_kind, w) as relay:
        index = CopyIndex(w.emu)
        bursts = []
        for rep in range(repeat):
            log(f"[burst:{relay_kind}] {rep + 1}/{repeat}: {customers} new customers × "
                f"{per_customer} messages")
            bursts.append(await _one_burst(w, relay, index, rep, customers, per_customer,
                                           wait_s))
        totals = [b["total_ms"] for b in bursts]
        median = sorted(bursts, key=lambda b: b["total_ms"])[len(bursts) // 2]
        result = {
            "relay": relay_kind,
            "params": {"customers": customers, "messages_per_customer": per_customer,
                       "repeat": repeat, "rate_limits": "off",
                       "note": "each repeat: new customers, same relay process"},
            "total_ms": median["total_ms"],  # the median burst
            "total_ms_each": totals,
            "complete": all(b["complete"] for b in bursts),
            "missing": sum(b["missing"] for b in bursts),
            "duplicates": sum(b["duplicates"] for b in bursts),
            "customers_split_across_topics": sum(b["customers_split_across_topics"]
                                                 for b in bursts),
            "customers_out_of_order": sum(b["customers_out_of_order"] for b in bursts),
            "topics_per_burst": [b["topics"] for b in bursts],
            "relay_cpu_ms_per_message": median["relay_cpu_ms_per_message"],
            "median_burst": median,
            "peak_rss_mb": peak_mb(relay),
        }
    result["relay_exit_code"] = relay.extra.get("exit_code")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="burst benchmark (prints JSON)")
    relay_arg(parser)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=5, help="messages per customer")
    parser.add_argument("--repeat", type=int, default=3, help="bursts (the median is kept)")
    args = parser.parse_args()
    result = asyncio.run(run(args.relay, customers=args.customers,
                             per_customer=args.messages, repeat=args.repeat))
    emit(f"burst-{args.relay}", result)


if __name__ == "__main__":
    main()

"""Surge: 100 new customers × 3 texts within 10 s, the group limit modelled (20 per window).

    .venv/bin/python -m bench.surge --relay sqlite|postgres [--window S] [--mode M]

`before` runs relaydesk as it is without surge handling (a topic, the card and a copy per
message: 5 sends per customer); `after` with `outbox.spare_topics` (made while the budget
is idle, before the customers arrive) and `outbox.coalesce`. Full size is Telegram's shape
(group 20 per 60 s, private 1 per 1 s, bot 30 per 1 s; arrivals over 10 s); `--window W`
scales every window and the arrival spread by W/60 (same shape).

Figures:
- sends into the group from the first customer message until every customer is visible
  (topic creations, posts, copies; each copied message counts), per customer;
- time until every customer is visible (their first message readable in a topic) against
  the least the budget allows for one send per customer: ceil(N/20) − 1 windows after the
  first send, plus nothing for arrivals (they end long before);
- violations (a send during an announced retry_after) and 429 answers;
- at idle (after the surge, limits as set), customer → topic latency of a customer whose
  topic exists, p50/p95 over sequential samples;
- `extra_sends`: every send before the last customer became visible that made nobody
  visible, with what could be known when it went: the places its window had used, the
  customers whose first message had arrived, and the customer messages written but not yet
  in the group (an upper bound of any queue the relay could have seen). `demand_pressed`
  says whether "queued + used > the window's count" held then, i.e. whether a rule on
  known demand could have held that send back.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import statistics
import time
from typing import Any

from bench.rate_limited import limits_for
from bench.relays import peak_mb, relay_arg, running_relay
from bench.report import emit, log
from bench.world import World, world

GROUP_COUNT = 20
GROUP_SEND = ("createForumTopic", "sendMessage", "copyMessage", "sendPhoto")


def _outbox(spares: int, coalesce: bool) -> str:
    # abuse's flood limit off: the idle samples are 40 messages of one customer 20 ms apart,
    # a flood by its measure (the surge's customers write 3 each, far under it).
    return (f"outbox:\n  album_wait: 200ms\n  spare_topics: {spares}\n"
            f"  coalesce: {'true' if coalesce else 'false'}\nabuse:\n  enabled: false\n")


def _units(record: Any) -> int:
    if record.method == "copyMessages":
        return len(record.params["message_ids"])
    return 1 if record.method in GROUP_SEND else 0


def _extra_sends(w: World, since: int, visible: dict[int, float], written: list[float],
                 arrived: dict[int, float], window: float) -> list[dict[str, Any]]:
    """The sends that made nobody visible before the last customer was, and what the
    demand was when each went (see the module's docstring)."""
    last, made = max(visible.values(), default=0.0), set(visible.values())
    sends = [r for r in w.emu.requests[since:] if r.ok and r.chat_id == w.group and _units(r)]
    t0 = min(written, default=0.0)
    extras: list[dict[str, Any]] = []
    posted, history = 0, list[tuple[float, int]]()  # the sends so far: (time, units)
    for r in sends:
        at = r.time + r.duration
        if at > last:
            break
        used = sum(u for t, u in history if t > r.time - window)
        text = str(r.params.get("text", "")) + str(r.params.get("caption", ""))
        rows = len(re.findall(r"s\d{3}-m\d", text)) if r.method == "sendMessage" \
            else _units(r)
        if r.method != "createForumTopic" and at not in made:
            queued = sum(1 for t in written if t <= r.time) - posted
            extras.append({"t_s": round(r.time - t0, 3), "method": r.method,
                           "window_used": used,
                           "customers_arrived": sum(1 for t in arrived.values() if t <= r.time),
                           "queued_upper_bound": queued,
                           "demand_pressed": queued + used > GROUP_COUNT})
        posted += rows
        history.append((r.time, _units(r)))
    return extras


def _visible_at(w: World, since: int, markers: dict[int, tuple[int, int]]
                ) -> dict[int, float]:
    """Customer index → when their first message became readable in the group: a copy of
    it, or a post whose text carries it (the card and the text in one)."""
    emu, found = w.emu, dict[int, float]()
    first_ids = {chat_mid: i for i, chat_mid in markers.items()}
    for r in emu.requests[since:]:
        if not r.ok or r.chat_id != w.group:
            continue
        at = r.time + r.duration
        text = str(r.params.get("text", "")) + str(r.params.get("caption", ""))
        source = int(r.params.get("from_chat_id", 0) or 0)
        ids = [int(x) for x in r.params.get("message_ids", [])]
        if "message_id" in r.params and r.method == "copyMessage":
            ids.append(int(r.params["message_id"]))
        hits = {first_ids[(source, m)] for m in ids if (source, m) in first_ids}
        hits |= {i for i in markers if f"s{i:03d}-m0" in text}
        for i in hits:
            found.setdefault(i, at)
    return found


async def _idle_latency(w: World, samples: int, window: float) -> dict[str, float]:
    emu = w.emu
    user = w.customer("Idle")
    await emu.user_send(user, user.id, text="idle-warm")
    await emu.wait_for(lambda: any("idle-warm" in str(m.get("text", ""))
                                   for m in emu.messages(w.group)), 60, "warm topic")
    latencies = []
    for k in range(samples):
        marker = f"idle-{k}"
        seen = len(emu.requests)
        t0 = time.monotonic()
        msg = await emu.user_send(user, user.id, text=marker)

        def landed(mid: int = int(msg["message_id"]), start: int = seen) -> float | None:
            for r in emu.requests[start:]:
                if r.ok and r.chat_id == w.group and (
                        mid in [int(x) for x in r.params.get("message_ids", [])]
                        or int(r.params.get("message_id", -1)) == mid):
                    return r.time + r.duration
            return None

        # 40 posts in a second are over the group's 20 a window: a sample may wait a
        # window (a minute at full size) for its place.
        await emu.wait_for(lambda: landed() is not None, 30 + 2 * window, "idle copy")
        at = landed()
        assert at is not None
        latencies.append((at - t0) * 1000)
        await asyncio.sleep(0.02)
    latencies.sort()
    return {"samples": samples, "p50_ms": round(statistics.median(latencies), 3),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 3)}


async def run(relay_kind: str, mode: str, *, window: float = 60.0, customers: int = 100,
              per_customer: int = 3, spread: float = 10.0, idle_samples: int = 40
              ) -> dict[str, Any]:
    limits, yaml = limits_for(window)
    group_window = limits["group"][1]
    arrivals = spread * window / 60
    surge = mode == "after"
    minimum = (math.ceil(customers / GROUP_COUNT) - 1) * group_window
    outbox = _outbox(customers if surge else 0, surge)
    async with world() as w:
        w.emu.set_rate_limits(True, private=limits["private"], group=limits["group"],
                              bot=limits["bot"])
        async with running_relay(relay_kind, w, limits=yaml, outbox=outbox) as relay:
            return await _surge(relay, w, mode, customers, per_customer, arrivals,
                                group_window, minimum, idle_samples, yaml, limits)


async def _surge(relay: Any, w: World, mode: str, customers: int, per_customer: int,
                 arrivals: float, group_window: float, minimum: float, idle_samples: int,
                 yaml: str, limits: dict[str, Any]) -> dict[str, Any]:
    emu = w.emu
    if mode == "after":  # the spares are made while the budget is idle, before anyone writes
        prep0 = time.monotonic()
        await emu.wait_for(lambda: sum(t["name"] == "💬 New conversation"
                                       for t in emu.topics(w.group)) >= customers,
                           customers * group_window, "spare topics made")
        log(f"[surge:{mode}] {customers} spares ready in {time.monotonic() - prep0:.1f}s")
        await asyncio.sleep(group_window + 0.5)  # their window has passed
    users = [w.customer(f"Surge{i}") for i in range(customers)]
    markers: dict[int, tuple[int, int]] = {}
    written: list[float] = []  # when each customer message was sent to the emulator
    arrived: dict[int, float] = {}  # customer index -> when their first message was
    since = len(emu.requests)
    violations0 = len(emu.violations)
    t0 = time.monotonic()

    async def one(i: int) -> None:
        await asyncio.sleep(arrivals * i / customers)
        for j in range(per_customer):
            written.append(time.monotonic())  # before: the relay can't see it earlier
            if j == 0:
                arrived[i] = written[-1]
            msg = await emu.user_send(users[i], users[i].id, text=f"s{i:03d}-m{j}")
            if j == 0:
                markers[i] = (int(users[i].id), int(msg["message_id"]))

    log(f"[surge:{mode}] {customers}×{per_customer} over {arrivals:.1f}s, group window "
        f"{group_window}s: least for one send each {minimum:.1f}s")
    await asyncio.gather(*(one(i) for i in range(customers)))

    def everyone() -> bool:
        relay.check_alive()
        return len(_visible_at(w, since, markers)) == customers

    complete = True
    try:
        await emu.wait_for(everyone, minimum * 6 + 120, "every customer visible")
    except TimeoutError:
        complete = False
    log(f"[surge:{mode}] all visible: {complete}")
    visible = _visible_at(w, since, markers)
    last = max(visible.values(), default=time.monotonic())
    first_send = min((r.time for r in emu.requests[since:] if r.ok and r.chat_id == w.group
                      and _units(r)), default=t0)
    during = [r for r in emu.requests[since:] if r.ok and r.chat_id == w.group
              and r.time <= last]
    sends = sum(_units(r) for r in during)
    times = sorted(v - t0 for v in visible.values())
    extras = _extra_sends(w, since, visible, written, arrived, group_window)
    await emu.wait_for(lambda: all(any(f"s{i:03d}-m{per_customer - 1}" in str(
        m.get("text", "")) for m in emu.messages(w.group)) for i in range(customers)),
        minimum * 30 + 300, "every message in the group")
    if mode == "after":  # idle means idle: spares made again and titles set
        def settled() -> bool:
            names = {t["message_thread_id"]: t["name"] for t in emu.topics(w.group)}
            spare = sum(n == "💬 New conversation" for n in names.values())
            return spare >= customers and len(names) >= 2 * customers
        await emu.wait_for(settled, customers * group_window * 2 + 120, "spares settled")
        await asyncio.sleep(group_window + 0.5)
    log(f"[surge:{mode}] every message in the group; idle latency next")
    idle = await _idle_latency(w, idle_samples, group_window)
    return {
        "relay": relay.kind, "mode": mode,
        "params": {"customers": customers, "messages_per_customer": per_customer,
                   "arrivals_s": arrivals, "window_s": group_window,
                   "full_size": group_window == 60.0,
                   "limits": {k: list(v) for k, v in limits.items()},
                   "relaydesk_limits_yaml": yaml},
        "complete": complete,
        "group_sends_until_all_visible": sends,
        "sends_per_customer": round(sends / customers, 3),
        "group_calls": {m: sum(1 for r in during if r.method == m)
                        for m in sorted({r.method for r in during})},
        "all_visible_s": round(last - t0, 3),
        "all_visible_after_first_send_s": round(last - first_send, 3),
        "minimum_one_send_each_s": round(minimum, 3),
        "ratio_to_minimum": round((last - first_send) / minimum, 4) if minimum else None,
        "visible_p50_s": round(times[len(times) // 2], 3) if times else None,
        "extra_sends": extras,
        "extra_sends_demand_pressed": sum(e["demand_pressed"] for e in extras),
        "violations": len(emu.violations) - violations0,
        "responses_429": sum(1 for r in emu.requests[since:] if r.status == 429),
        "idle_customer_to_topic": idle,
        "peak_rss_mb": peak_mb(relay),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="surge benchmark (prints JSON)")
    relay_arg(parser, floor=False)
    parser.add_argument("--window", type=float, default=60.0,
                        help="group window in seconds (60 = Telegram's)")
    parser.add_argument("--mode", choices=["before", "after", "both"], default="both")
    parser.add_argument("--customers", type=int, default=100)
    args = parser.parse_args()
    modes = ["before", "after"] if args.mode == "both" else [args.mode]
    results = {m: asyncio.run(run(args.relay, m, window=args.window,
                                  customers=args.customers)) for m in modes}
    emit(f"surge-{args.relay}-w{args.window:g}", {"runs": results})


if __name__ == "__main__":
    main()

"""Flood limits on: 30 new customers × 3 messages, paced by the group budget.

    .venv/bin/python -m bench.rate_limited --relay sqlite|postgres [--window SECONDS]

The emulator enforces Telegram's limits (429 + retry_after, violations recorded) and
relaydesk's `telegram.limits` are set to the very same values. Full size is Telegram's
shape: group 20 per 60 s, private chat 1 per 1 s, bot 30 per 1 s. `--window W` shrinks every
window by W/60 (same shape: group 20 per W, private 1 and bot 30 per W/60) so a run takes
seconds instead of minutes; the result says which window was used.

What the group budget must carry, in relaydesk's model: per customer one topic creation,
one customer card and 3 copies (copyMessages counts each copied message) = 5, so 150
units. At 20 per sliding window the last unit can go no earlier than
(ceil(150 / 20) − 1) × W = 7 W after the first: that is the minimum. The target is a total
within 10 % of it and no violation (a send during an announced retry_after).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

from bench.relays import peak_mb, relay_arg, running_relay
from bench.report import emit, log
from bench.world import CopyIndex, calls_by_method, landed, world

GROUP_COUNT = 20


def limits_for(window: float) -> tuple[dict[str, tuple[int, float]], str]:
    """Telegram's limits with every window scaled by window/60, for both sides."""
    scale_ms = round(window * 1000 / 60)
    group_ms = round(window * 1000)
    limits = {"private": (1, scale_ms / 1000), "group": (GROUP_COUNT, group_ms / 1000),
              "bot": (30, scale_ms / 1000)}
    yaml = (f"{{private_chat: {{count: 1, per: {scale_ms}ms}}, "
            f"group: {{count: {GROUP_COUNT}, per: {group_ms}ms}}, "
            f"bot: {{count: 30, per: {scale_ms}ms}}}}")
    return limits, yaml


async def run(relay_kind: str, *, window: float = 60.0, customers: int = 30,
              per_customer: int = 3, spacing: float = 0.0) -> dict[str, Any]:
    limits, yaml = limits_for(window)
    group_window = limits["group"][1]
    units = customers * (2 + per_customer)  # topic + card + copies, per customer
    minimum = (math.ceil(units / GROUP_COUNT) - 1) * group_window
    timeout = minimum * 3 + 60
    async with world() as w:
        w.emu.set_rate_limits(True, private=limits["private"], group=limits["group"],
                              bot=limits["bot"])
        async with running_relay(relay_kind, w, limits=yaml) as relay:
            emu, index = w.emu, CopyIndex(w.emu)
            users = [w.customer("Paced") for _ in range(customers)]
            sent: list[tuple[int, int]] = []
            since = len(emu.requests)

            async def one(i: int) -> None:
                for j in range(per_customer):
                    if j and spacing:
                        await asyncio.sleep(spacing)
                    msg = await emu.user_send(users[i], users[i].id, text=f"p{i:02d}-m{j}")
                    sent.append((users[i].id, int(msg["message_id"])))

            log(f"[rate_limited:{relay_kind}] {customers}×{per_customer}, group window "
                f"{group_window}s: minimum {minimum:.1f}s")
            cpu0 = relay.cpu_seconds()
            t0 = time.monotonic()
            await asyncio.gather(*(one(i) for i in range(customers)))

            def done() -> bool:
                relay.check_alive()
                index.scan()
                return all((w.group, uid, mid) in index.found for uid, mid in sent)

            complete = True
            try:
                await emu.wait_for(done, timeout, "every paced message copied")
            except TimeoutError:
                complete = False
            records = [index.found[(w.group, u, m)] for u, m in sent
                       if (w.group, u, m) in index.found]
            finished = max((landed(r) for r in records), default=time.monotonic())
            total = finished - t0
            cpu1 = relay.cpu_seconds()
            wall = time.monotonic() - t0
            group_units = 0
            for r in emu.requests[since:]:
                if r.ok and r.chat_id == w.group:
                    if r.method == "copyMessages":
                        group_units += len(r.params["message_ids"])
                    elif r.method in ("createForumTopic", "sendMessage", "copyMessage"):
                        group_units += 1
            status_429 = sum(1 for r in emu.requests[since:] if r.status == 429)
            result = {
                "relay": relay_kind,
                "params": {"customers": customers, "messages_per_customer": per_customer,
                           "window_s": group_window, "spacing_s": spacing,
                           "full_size": group_window == 60.0,
                           "limits": {k: list(v) for k, v in limits.items()},
                           "relaydesk_limits_yaml": yaml},
                "complete": complete,
                "copies": len(records),
                "total_s": round(total, 3),
                "group_units_expected": units,
                "group_units_sent": group_units,
                "minimum_s": round(minimum, 3),
                "ratio_to_minimum": round(total / minimum, 4) if minimum else None,
                "violations": len(emu.violations),
                "responses_429": status_429,
                "bot_api_calls": calls_by_method(emu, since),
                # CPU the relay process used while mostly waiting for the group window
                "relay_cpu_s": round(cpu1 - cpu0, 2) if cpu0 is not None and cpu1 else None,
                "relay_cpu_share_of_wall_pct": round(100 * (cpu1 - cpu0) / wall, 1)
                if cpu0 is not None and cpu1 else None,
                "peak_rss_mb": peak_mb(relay),
            }
    result["relay_exit_code"] = relay.extra.get("exit_code")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="rate-limited benchmark (prints JSON)")
    relay_arg(parser, floor=False)
    parser.add_argument("--window", type=float, default=60.0,
                        help="group window in seconds (60 = Telegram's; smaller shrinks all "
                             "windows by the same factor)")
    parser.add_argument("--customers", type=int, default=30)
    parser.add_argument("--messages", type=int, default=3, help="messages per customer")
    parser.add_argument("--spacing", type=float, default=0.0,
                        help="seconds between one customer's messages (0: all at once)")
    args = parser.parse_args()
    result = asyncio.run(run(args.relay, window=args.window, customers=args.customers,
                             per_customer=args.messages, spacing=args.spacing))
    suffix = f"-s{args.spacing:g}" if args.spacing else ""
    emit(f"rate_limited-{args.relay}-w{args.window:g}{suffix}", result)


if __name__ == "__main__":
    main()

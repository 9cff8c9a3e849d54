"""Departments: 3 departments × 30 new customers, each department in its own group, with the
group limit modelled on both sides (the emulator enforces it, relaydesk paces by it).

    .venv/bin/python -m bench.departments --relay sqlite|postgres [--window SECONDS]

Every customer writes, gets the routing question, and all of them choose at once (t0 = the
first press). What each group must carry per customer: the topic, the card, the department
line and the first message = 4 units, 120 per group. At 20 per sliding window W the last
unit can go no earlier than (ceil(120 / 20) − 1) × W = 5 W after the first: the minimum three
independent budgets allow (one shared group would need (ceil(360 / 20) − 1) × W = 17 W).
The target: every first message in its topic within 10 % of 5 W, no violation. `--window W`
shrinks every window by W/60 as in bench.rate_limited (full size: W = 60).

The 4 units are checked, not assumed: `units_per_group` counts what each group really got
(`units_as_modelled` says whether it is 4 per customer, so that the minimum is the right
one). `per_group_first_call_s` says when each group started (all three at once when no
group's lane holds a worker another group needs), `presses_answered_s` when the last press
was handled and answered, `per_group_span_s` each group's own pacing from its first call.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

from bench.rate_limited import GROUP_COUNT, limits_for
from bench.relays import peak_mb, relay_arg, running_relay
from bench.report import emit, log
from bench.world import landed, world

NAMES = ("sales", "tech", "billing")
UNITS_PER_CUSTOMER = 4  # topic + card + department line + the first message


def _units(record: Any) -> int:
    """How many sends of the group's budget one call was."""
    if record.method == "copyMessages":
        return len(record.params.get("message_ids") or [])
    return 1


def departments_yaml(groups: dict[str, int]) -> str:
    items = "".join(f"  - {{id: {name}, names: {{en: {name.title()}}}, chat_id: {chat}}}\n"
                    for name, chat in groups.items())
    return f"departments:\n{items}routing: {{ask: true, default: {NAMES[0]}, ask_wait: 1h}}\n"


def _question(emu: Any, user_id: int) -> dict[str, Any] | None:
    return next((m for m in emu.messages(user_id) if m.get("reply_markup")), None)


async def run(relay_kind: str, *, window: float = 60.0, customers: int = 30) -> dict[str, Any]:
    limits, yaml = limits_for(window)
    group_window = limits["group"][1]
    units = customers * UNITS_PER_CUSTOMER
    minimum = (math.ceil(units / GROUP_COUNT) - 1) * group_window
    one_group = (math.ceil(units * len(NAMES) / GROUP_COUNT) - 1) * group_window
    async with world() as w:
        emu = w.emu
        groups = {name: emu.create_supergroup(title=name, forum=True) for name in NAMES}
        emu.set_rate_limits(True, private=limits["private"], group=limits["group"],
                            bot=limits["bot"])
        async with running_relay(relay_kind, w, limits=yaml,
                                 extra_config=departments_yaml(groups)) as relay:
            users = {name: [w.customer(name.title()) for _ in range(customers)]
                     for name in NAMES}
            firsts: dict[tuple[int, str], int] = {}  # (group, text) → customer
            for name, people in users.items():
                for i, user in enumerate(people):
                    text = f"{name}-{i:02d} first"
                    await emu.user_send(user, user.id, text=text)
                    firsts[(groups[name], text)] = user.id
            everyone = [u for people in users.values() for u in people]
            await emu.wait_for(lambda: all(_question(emu, u.id) for u in everyone),
                               60 + window, "every customer asked")
            log(f"[departments:{relay_kind}] {len(everyone)} customers asked; group window "
                f"{group_window}s: minimum {minimum:.1f}s (one group: {one_group:.1f}s)")
            since = len(emu.requests)
            t0 = time.monotonic()

            async def choose(name: str, user: Any) -> None:
                question = _question(emu, user.id)
                assert question is not None
                data = next(b["callback_data"]
                            for row in question["reply_markup"]["inline_keyboard"]
                            for b in row if b["text"] == name.title())
                await emu.user_press_button(user, user.id, question["message_id"], data)

            await asyncio.gather(*(choose(name, u) for name, people in users.items()
                                   for u in people))

            def in_topics() -> dict[tuple[int, str], float]:
                """(group, customer chat:message) → when its copy landed."""
                found = {}
                for r in emu.requests[since:]:
                    if r.ok and r.method == "copyMessage" and r.chat_id in groups.values():
                        source = f"{r.params.get('from_chat_id')}:{r.params.get('message_id')}"
                        found[(int(r.chat_id), source)] = landed(r)
                return found

            def done() -> bool:
                relay.check_alive()
                return len(in_topics()) >= len(firsts)

            complete = True
            try:
                await emu.wait_for(done, minimum * 3 + 60, "every first message in a topic")
            except TimeoutError:
                complete = False
            landed_at = in_topics()
            total = (max(landed_at.values()) - t0) if landed_at else float("nan")
            per_group = {
                name: round(max((t for (g, _), t in landed_at.items() if g == chat),
                                default=float("nan")) - t0, 3)
                for name, chat in groups.items()}
            # Each group's own pacing: from its first call (a topic) to its last first message.
            sends = [r for r in emu.requests[since:] if r.ok and r.chat_id in groups.values()
                     and not r.method.startswith("get")]
            starts = {chat: min((r.time for r in sends if r.chat_id == chat), default=t0)
                      for chat in groups.values()}
            # What each group really carried, in units of its budget (copyMessages counts
            # each message): the minimum above assumes UNITS_PER_CUSTOMER.
            units_sent = {name: sum(_units(r) for r in sends if r.chat_id == chat)
                          for name, chat in groups.items()}
            answers = [landed(r) for r in emu.requests[since:]
                       if r.ok and r.method == "answerCallbackQuery"]
            spans = {name: round(max((t for (g, _), t in landed_at.items() if g == chat),
                                     default=float("nan")) - starts[chat], 3)
                     for name, chat in groups.items()}
            result = {
                "relay": relay_kind,
                "params": {"departments": len(NAMES), "customers_per_department": customers,
                           "window_s": group_window, "full_size": group_window == 60.0,
                           "limits": {k: list(v) for k, v in limits.items()}},
                "complete": complete,
                "first_messages_in_topics": len(landed_at),
                "total_s": round(total, 3),
                "per_group_last_s": per_group,
                "per_group_span_s": spans,
                "per_group_first_call_s": {name: round(starts[chat] - t0, 3)
                                           for name, chat in groups.items()},
                # Every press handled: its hand-over committed, then answered.
                "presses_answered_s": round(max(answers) - t0, 3) if answers else None,
                "units_per_group": units_sent,
                "units_as_modelled": all(u == units for u in units_sent.values()),
                "minimum_s": round(minimum, 3),
                "one_shared_group_minimum_s": round(one_group, 3),
                "ratio_to_minimum": round(total / minimum, 4) if minimum else None,
                "violations": len(emu.violations),
                "responses_429": sum(1 for r in emu.requests[since:] if r.status == 429),
                "peak_rss_mb": peak_mb(relay),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="departments benchmark (prints JSON)")
    relay_arg(parser, floor=False)
    parser.add_argument("--window", type=float, default=60.0,
                        help="group window in seconds (60 = Telegram's; smaller shrinks all "
                             "windows by the same factor)")
    parser.add_argument("--customers", type=int, default=30, help="per department")
    args = parser.parse_args()
    result = asyncio.run(run(args.relay, window=args.window, customers=args.customers))
    emit("departments", result)


if __name__ == "__main__":
    main()

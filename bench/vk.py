"""The VK channel: customer → topic latency beside Telegram's, and operator answers to many
VK customers at the token's 20 requests/s.

    .venv/bin/python -m bench.vk --relay sqlite|postgres [--mode callback]

`--mode callback` measures the latency with VK's Callback API instead of the long poll: the
emulator POSTs each event to relaydesk's `http:` server (the answers part is left out: the
way out is the same in both modes).

- latency (rate limits off in relaydesk and in both emulators): warmed-up VK customers and
  warmed-up Telegram customers write one message each, alternating, to the same relaydesk
  process; t0 just before the emulator queues the event/update, t1 the end of the desk call
  that put the message into its topic (VK messages are rendered: sendMessage; Telegram
  messages are copied: copyMessage).
- answers: `--customers` VK customers with a topic each; the operator answers each once, as
  fast as the Telegram emulator takes it; relaydesk runs with VK's real budget (20/s) and the
  VK emulator enforces it. Reported: the time from the first answer written to the last
  messages.send landed, every VK request per second (max of a sliding 1 s window) and the
  emulator's violations (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench.ports import free_port
from bench.relays import relay_arg, running_relay
from bench.report import emit, log, summary_ms
from bench.world import CopyIndex, landed, world
from sandbox.vk import ControlError, VkEmulator

OPEN_VK_RATE = "{count: 1000, per: 1s}"
VK_RATE = "{count: 20, per: 1s}"


CALLBACK_SECRET = "benchCallbackSecret1"


def vk_section(emu: VkEmulator, group_id: int, token: str, rate: str) -> str:
    return f"""vk:
  token: "{token}"
  group_id: {group_id}
  api_server: "{emu.base_url}"
  poll_wait: 25s
  rate: {rate}
"""


def callback_section(club: Any, port: int) -> str:
    """vk.mode: callback (appended to `vk_section`) and the http: server it needs."""
    return f"""  mode: callback
  callback: {{path: /vk/callback, secret: {CALLBACK_SECRET},
             confirmation: {club.confirmation_code}}}
http: {{listen: "127.0.0.1:{port}", public_url: "http://127.0.0.1:{port}"}}
"""


def _sent_to_desk(w: Any, text: str) -> Any:
    for record in reversed(w.emu.requests):
        if record.ok and record.method == "sendMessage" and record.params.get("text") == text:
            return record
    return None


async def latency(kind: str, samples: int, warm: int, gap: float,
                  mode: str = "long_poll") -> dict[str, Any]:
    vk = VkEmulator()
    await vk.start()
    vk.set_rate_limit(False)
    club = vk.add_community(name="Support")
    port = free_port()
    section = vk_section(vk, club.id, club.token, OPEN_VK_RATE)
    if mode == "callback":
        section += callback_section(club, port)
    try:
        async with world() as w, running_relay(kind, w, extra_config=section) as relay:
            if mode == "callback":  # the admin confirms the server once relaydesk listens
                for _ in range(100):
                    try:
                        await vk.set_callback_server(
                            club, f"http://127.0.0.1:{port}/vk/callback", CALLBACK_SECRET)
                        break
                    except ControlError:
                        await asyncio.sleep(0.1)
            index = CopyIndex(w.emu)
            vk_people = [vk.add_user(f"Vk{i}", "Bench") for i in range(warm)]
            tg_people = [w.customer("Tg") for _ in range(warm)]
            for person in vk_people:  # warm up: topic and card exist
                await vk.user_send(person, club, f"hello {person.id}")
                await w.emu.wait_for(lambda p=person: _sent_to_desk(w, f"hello {p.id}"), 20)
            for person in tg_people:
                msg = await w.emu.user_send(person, person.id, text=f"hello {person.id}")
                await index.wait(w.group, person.id, msg["message_id"], 20)
            log(f"[vk:{kind}] {samples} samples per channel")
            vk_lat, tg_lat = [], []
            for n in range(samples):
                person = vk_people[n % warm]
                text = f"vk {n} from {person.id}"
                await asyncio.sleep(gap)
                t0 = time.monotonic()
                await vk.user_send(person, club, text)
                record = await w.emu.wait_for(lambda t=text: _sent_to_desk(w, t), 10,
                                              text)
                vk_lat.append(landed(record) - t0)
                user = tg_people[n % warm]
                await asyncio.sleep(gap)
                t0 = time.monotonic()
                msg = await w.emu.user_send(user, user.id, text=f"tg {n}")
                copy = await index.wait(w.group, user.id, msg["message_id"],
                                        alive=relay.check_alive)
                tg_lat.append(landed(copy) - t0)
            return {
                "vk_customer_to_topic": summary_ms(vk_lat),
                "telegram_customer_to_topic": summary_ms(tg_lat),
                "users_get_calls": len(vk.calls("users.get")),
                "params": {"samples": samples, "warm_customers": warm, "gap_s": gap,
                           "rate_limits": "off", "vk_mode": mode},
            }
    finally:
        await vk.stop()


async def answers(kind: str, customers: int) -> dict[str, Any]:
    vk = VkEmulator()
    await vk.start()
    club = vk.add_community(name="Support")
    try:
        async with world() as w, running_relay(
            kind, w, extra_config=vk_section(vk, club.id, club.token, VK_RATE)
        ) as relay:
            people = [vk.add_user(f"Vk{i}", "Bench") for i in range(customers)]
            for person in people:
                await vk.user_send(person, club, f"question {person.id}")
            await w.emu.wait_for(
                lambda: all(_sent_to_desk(w, f"question {p.id}") for p in people), 120,
                "every question has a topic")
            topics = {p.id: int(_sent_to_desk(w, f"question {p.id}").params[
                "message_thread_id"]) for p in people}
            vk.clear_requests()
            log(f"[vk:{kind}] {customers} answers at 20 requests/s")
            t0 = time.monotonic()
            for person in people:
                await w.emu.user_send(w.operator, w.group, text=f"answer {person.id}",
                                      thread_id=topics[person.id])

            def done() -> bool:
                relay.check_alive()
                return sum(1 for r in vk.calls("messages.send", ok=True)) >= customers

            await vk.wait_for(done, 120, "every answer sent")
            sends = vk.calls("messages.send", ok=True)
            t_end = max(r.time + r.duration for r in sends)
            times = sorted(r.time for r in vk.requests if r.method != "longpoll")
            busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
            delivered = sum(1 for p in people
                            if any(m["out"] for m in vk.messages(club, p.id)))
            return {
                "customers": customers,
                "answers_delivered": delivered,
                "seconds_first_answer_to_last_send": round(t_end - t0, 2),
                "vk_requests": len(times),
                "max_requests_in_any_1s_window": busiest,
                "emulator_rate_violations": len(vk.violations),
                "rejected_error_6": len(vk.calls("messages.send", ok=False)),
            }
    finally:
        await vk.stop()


async def run(kind: str, samples: int, warm: int, gap: float, customers: int,
              mode: str = "long_poll") -> dict[str, Any]:
    result = {"relay": kind, "latency": await latency(kind, samples, warm, gap, mode)}
    if mode == "long_poll":
        result["answers_at_20_per_s"] = await answers(kind, customers)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="VK channel benchmark (prints JSON)")
    relay_arg(parser, floor=False)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.0,
                        help="idle seconds between samples (0: closed loop, as relay_latency)")
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--mode", choices=["long_poll", "callback"], default="long_poll",
                        help="how VK hands relaydesk its events")
    args = parser.parse_args()
    result = asyncio.run(run(args.relay, args.samples, args.warm, args.gap, args.customers,
                             args.mode))
    suffix = "-callback" if args.mode == "callback" else ""
    emit(f"vk-{args.relay}{suffix}", result)


if __name__ == "__main__":
    main()

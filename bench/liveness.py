"""Outbox liveness, measured: what a customer, an admin and a crash see.

    .venv/bin/python -m bench.liveness --relay sqlite|postgres [--rounds 10]

- album_after_text: a customer with a topic sends a text and, in the same second, an album
  of two photos, then nothing. Seconds from the album's last part to its copies in the topic
  (album_wait is 200 ms in the bench config; the send itself a few ms).
- stop_while_paced: 12 new customers under Telegram's group limit (20 posts a minute, the
  emulator enforcing it too), SIGTERM once 6 topics exist: seconds until the process exited.
- kill_restart: 20 customers × 5 messages; kill -9 once a quarter is in the topics, start
  again at once: seconds from the new start until every message is in, and the duplicates
  (a send on the wire when the process died goes out again: Telegram has no idempotency).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections import Counter
from typing import Any

from bench.relays import relay_arg, running_relay
from bench.report import emit, log
from bench.world import CopyIndex, landed, world

TELEGRAM_LIMITS = ("{private_chat: {count: 1, per: 1s}, group: {count: 20, per: 1m}, "
                   "bot: {count: 30, per: 1s}}")


async def album_after_text(kind: str, rounds: int) -> dict[str, Any]:
    async with world() as w, running_relay(kind, w) as relay:
        emu, index = w.emu, CopyIndex(w.emu)
        delays: list[float] = []
        for n in range(rounds):
            user = w.customer("Album")
            hello = f"hello {n}"
            await emu.user_send(user, user.id, text=hello)
            await emu.wait_for(lambda t=hello: _topic_has(w, t), 30, "first message")
            await emu.user_send(user, user.id, text=f"here are the photos {n}")
            album = await emu.user_send_album(user, user.id, ["photo", "photo"])
            sent = time.monotonic()
            keys = [(w.group, user.id, int(m["message_id"])) for m in album]

            def copied(keys: list[tuple[int, int, int]] = keys) -> bool:
                relay.check_alive()
                index.scan()
                return all(k in index.found for k in keys)

            await emu.wait_for(copied, 60, "the album after the text")
            delays.append(max(landed(index.found[k]) for k in keys) - sent)
    delays.sort()
    return {"rounds": rounds, "p50_s": round(delays[len(delays) // 2], 3),
            "max_s": round(delays[-1], 3)}


def _topic_has(w: Any, text: str) -> bool:
    return any(m.get("text") == text for m in w.emu.messages(w.group))


async def stop_while_paced(kind: str) -> dict[str, Any]:
    async with world() as w:
        w.emu.set_rate_limits(True, private=(1, 1.0), group=(20, 60.0), bot=(30, 1.0))
        async with running_relay(kind, w, limits=TELEGRAM_LIMITS) as relay:
            for _ in range(12):
                user = w.customer("Paced")
                await w.emu.user_send(user, user.id, text="hello")
            await w.emu.wait_for(lambda: len(w.emu.topics(w.group)) >= 6, 60, "6 topics")
            assert relay.proc is not None
            started = time.monotonic()
            relay.proc.send_signal(signal.SIGTERM)
            code = await relay.proc.wait()
            return {"exit_s": round(time.monotonic() - started, 3), "exit_code": code,
                    "topics_made": len(w.emu.topics(w.group))}


async def kill_restart(kind: str) -> dict[str, Any]:
    async with world() as w, running_relay(kind, w) as relay:
        emu = w.emu
        users = [w.customer("Kill") for _ in range(20)]
        expected = {f"k{i:02d}-m{j}" for i in range(20) for j in range(5)}

        def copies() -> list[str]:
            return [str(m.get("text")) for m in emu.messages(w.group)
                    if m.get("from", {}).get("is_bot") and str(m.get("text", "")).startswith("k")]

        for j in range(5):
            await asyncio.gather(*(emu.user_send(u, u.id, text=f"k{i:02d}-m{j}")
                                   for i, u in enumerate(users)))
        await emu.wait_for(lambda: len(copies()) >= 25, 60, "a quarter relayed")
        assert relay.proc is not None
        relay.proc.send_signal(signal.SIGKILL)
        await relay.proc.wait()
        before, since = len(copies()), len(emu.requests)
        restarted = time.monotonic()
        await relay.start()
        await emu.wait_for(lambda: _polls_after_start(emu.requests[since:]), 60,
                           "the new process polls")
        polling = time.monotonic()
        await emu.wait_for(lambda: set(copies()) >= expected, 120, "everything relayed")
        counts = Counter(copies())
        return {"delivered_before_kill": before,
                "restart_to_polling_s": round(polling - restarted, 3),
                "restart_to_all_s": round(time.monotonic() - restarted, 3),
                "duplicates": sum(n - 1 for n in counts.values())}


def _polls_after_start(requests: list[Any]) -> bool:
    """The new process's first getUpdates (after its getMe: the dead process's last long
    poll may still be answered after the kill)."""
    methods = [r.method for r in requests]
    return "getMe" in methods and "getUpdates" in methods[methods.index("getMe"):]


async def run(kind: str, rounds: int) -> dict[str, Any]:
    log(f"[liveness:{kind}] album after text ×{rounds}")
    album = await album_after_text(kind, rounds)
    log(f"[liveness:{kind}] stop while paced")
    stop = await stop_while_paced(kind)
    log(f"[liveness:{kind}] kill -9 and restart")
    crash = await kill_restart(kind)
    return {"relay": kind, "album_after_text": album, "stop_while_paced": stop,
            "kill_restart": crash}


def main() -> None:
    parser = argparse.ArgumentParser(description="outbox liveness benchmark (prints JSON)")
    relay_arg(parser, floor=False)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    emit(f"liveness-{args.relay}", asyncio.run(run(args.relay, args.rounds)))


if __name__ == "__main__":
    main()

"""The Telegram emulator world every relay benchmark runs in: the emulator (in the benchmark's
process, on 127.0.0.1), the bot, the operators' forum group, customers, and the copies the
relay made, found in the emulator's request log."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sandbox.telegram import RequestRecord, TelegramEmulator, UserRecord

TOKEN = "424242:BenchToken-x9Y7"


@dataclass
class World:
    emu: TelegramEmulator
    group: int
    bot_id: int
    operator: UserRecord
    _names: int = 0

    def customer(self, prefix: str = "Customer") -> UserRecord:
        self._names += 1
        n = self._names
        return self.emu.add_user(first_name=f"{prefix}{n}", last_name="Bench",
                                 username=f"{prefix.lower()}{n}", language_code="en")


@contextlib.asynccontextmanager
async def world() -> AsyncIterator[World]:
    emu = TelegramEmulator()
    await emu.start(host="127.0.0.1", port=0)
    try:
        bot = emu.add_bot(TOKEN, username="bench_relay_bot")
        group = emu.create_supergroup(title="Support", forum=True, bot_admin=True,
                                      can_manage_topics=True)
        operator = emu.add_user(first_name="Olga", last_name="Operator", language_code="en")
        emu.add_member(group, operator)
        yield World(emu, group, int(bot.id), operator)
    finally:
        await emu.stop()


class CopyIndex:
    """(destination chat, source chat, source message id) → the emulator's RequestRecord of
    the copyMessage/copyMessages call that put the copy there. Scans the request log
    incrementally; copies seen more than once are counted in `duplicates`."""

    def __init__(self, emu: TelegramEmulator) -> None:
        self.emu = emu
        self._pos = 0
        self.found: dict[tuple[int, int, int], RequestRecord] = {}
        self.duplicates: dict[tuple[int, int, int], int] = {}

    def scan(self) -> None:
        records = self.emu.requests
        while self._pos < len(records):
            record = records[self._pos]
            self._pos += 1
            if not record.ok or record.method not in ("copyMessage", "copyMessages"):
                continue
            dest = int(record.chat_id) if record.chat_id is not None else 0
            src = int(record.params["from_chat_id"])
            if record.method == "copyMessage":
                ids = [int(record.params["message_id"])]
            else:
                raw = record.params["message_ids"]
                ids = [int(i) for i in (json.loads(raw) if isinstance(raw, str) else raw)]
            for mid in ids:
                key = (dest, src, mid)
                if key in self.found:
                    self.duplicates[key] = self.duplicates.get(key, 1) + 1
                else:
                    self.found[key] = record

    def get(self, dest: int, src: int, mid: int) -> RequestRecord | None:
        self.scan()
        return self.found.get((dest, src, mid))

    async def wait(self, dest: int, src: int, mid: int, within: float = 10.0,
                   alive: Callable[[], None] | None = None) -> RequestRecord:
        def ready() -> RequestRecord | None:
            if alive is not None:
                alive()
            return self.get(dest, src, mid)

        return await self.emu.wait_for(ready, within, f"copy of {src}/{mid} into {dest}")


def landed(record: RequestRecord) -> float:
    """When the emulator finished the call (the copy exists), monotonic seconds."""
    return record.time + record.duration


def calls_by_method(emu: TelegramEmulator, since: int = 0) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in emu.requests[since:]:
        if record.method == "getUpdates":
            continue
        key = record.method if record.ok else f"{record.method}:{record.status}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))

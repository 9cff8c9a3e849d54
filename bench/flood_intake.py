"""What storing a flood's held messages costs intake, in process (no relay, no emulator):
`python -m bench.flood_intake --db sqlite|postgres`.

One customer over the flood limit sends `--batch` messages (a getUpdates batch holds up to
100), `--rounds` times: stored one unit each (outside a poller's run: the webhook, VK, MAX,
and every path before the held run), and kept in a run and stored together when it settles
(core/intake/held.py: a Telegram poller's batch). Each round's figure is the whole batch,
intake's call for each message included. Prints JSON, kept in
bench/results/flood_intake-<db>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta
from typing import Any

from bench.databases import open_database_in_process
from bench.report import emit, summary_ms
from core.abuse.flood import Flood, FloodSettings
from core.clock import SystemClock
from core.delivery.queue import Queue
from core.intake.service import IntakeService
from core.model import Content, InboundCustomerMessage, Profile
from core.unit import Transactions
from storage.abuse import TortoiseAbuseStore
from storage.store import TortoiseStore
from tests.parts import Recorder, core_parts


class Flooder:
    def __init__(self, intake: IntakeService, clock: SystemClock) -> None:
        self._intake, self._clock, self._sent = intake, clock, 0

    async def says(self) -> None:
        self._sent += 1
        await self._intake.relay_customer_to_desk(InboundCustomerMessage(
            "telegram", "7", "7", str(self._sent), Profile("Flo", None, "en"),
            Content("text", f"flood {self._sent}"), self._clock.now()))

    async def one_unit_each(self, batch: int) -> float:
        t0 = time.perf_counter()
        for _ in range(batch):
            await self.says()
        return time.perf_counter() - t0

    async def in_a_run(self, batch: int) -> float:
        t0 = time.perf_counter()
        with self._intake.held_run() as run:
            for _ in range(batch):
                await self.says()
            await run.settle()
        return time.perf_counter() - t0


async def run(db: str, batch: int, rounds: int) -> dict[str, Any]:
    async with open_database_in_process(db, "flood.sqlite3"):
        store, clock = TortoiseStore(), SystemClock()
        transactions = Transactions(store, clock, Recorder())
        queue = Queue(store, "-1001")
        # Every message after the first is over the limit.
        flood = Flood(TortoiseAbuseStore(), store, queue, transactions,
                      FloodSettings(max_messages=1, per=timedelta(hours=1)))
        intake = core_parts(store, clock, listeners=[flood], transactions=transactions,
                            queue=queue).intake
        flooder = Flooder(intake, clock)
        await flooder.says()  # the conversation, relayed
        await flooder.one_unit_each(batch)  # warm-up
        await flooder.in_a_run(batch)
        alone, together = [], []
        for _ in range(rounds):  # alternating, so both see the same machine
            alone.append(await flooder.one_unit_each(batch))
            together.append(await flooder.in_a_run(batch))
        return {"db": db, "batch": batch, "rounds": rounds,
                "one_unit_each_per_batch": summary_ms(alone),
                "in_a_run_per_batch": summary_ms(together)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flood_intake")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    emit(f"flood_intake-{args.db}", asyncio.run(run(args.db, args.batch, args.rounds)))


if __name__ == "__main__":
    main()

"""The after-the-answer capabilities' own work on the relay path, measured in process (no
relay, no emulator): `python -m bench.feedback_hooks --db sqlite|postgres`.

- every customer message: the flood count (`Flood.over_limit`, memory only), the only work
  added to a message of an open conversation;
- a message of a returning customer with no open conversation (a conversation about to
  start): the ban check and the survey-comment check (`Lifecycle.absorbs`: two indexed
  queries), timed inside an open transaction as in intake's unit;
- `/close`: the survey (identity, customer, the last answerer, the survey row, the question
  queued) — the listener's `closed` in a transaction of its own (rolled back), so its
  BEGIN/ROLLBACK are in the figure;
- `/t`: rendering a template (sandboxed jinja2, compiled per call).

Each is timed `--samples` times; prints JSON, kept in bench/results/feedback_hooks-<db>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.databases import open_database_in_process
from bench.report import emit, summary_ms
from core.abuse.bans import Bans
from core.abuse.flood import Flood, FloodSettings
from core.canned.templates import SAMPLE, render
from core.clock import SystemClock
from core.delivery.queue import Queue
from core.feedback.service import Csat, CsatSettings
from core.feedback.texts import SurveyTexts
from core.lifecycle import CloseReason, Closure, Lifecycle
from core.model import Content, Profile
from core.unit import Transactions, Unit
from storage.abuse import TortoiseAbuseStore
from storage.feedback import TortoiseSurveyStore
from storage.store import TortoiseStore

TEMPLATE = "Hello {{ customer.first_name }}! I'm {{ operator.first_name }}. How can I help?"


def _timed(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


async def _timed_async(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


async def _customers(store: TortoiseStore, transactions: Transactions, count: int
                     ) -> list[Any]:
    """Customers each with a closed, answered conversation."""
    made = []
    for n in range(count):
        async def work(unit: Unit, n: int = n) -> Any:
            identity, customer, _ = await store.upsert_identity(
                "telegram", str(10_000 + n), str(10_000 + n), Profile(f"C{n}", language="en"),
                unit.now)
            conversation = await store.create_conversation(
                customer.id, "telegram", identity.id, 100 + n, unit.now)
            await store.close_conversation(conversation.id, unit.now, "operator")
            return customer, identity, conversation

        made.append(await transactions.run(work))
    return made


async def run(db: str, samples: int) -> dict[str, Any]:
    async with open_database_in_process(db, "hooks.sqlite3"):
        store, clock = TortoiseStore(), SystemClock()
        transactions = Transactions(store, clock)
        queue = Queue(store, "-1001")
        bans = Bans(TortoiseAbuseStore(), store, queue)
        csat = Csat(TortoiseSurveyStore(), store, queue, transactions, SurveyTexts(),
                    CsatSettings(), bans.silenced)
        lifecycle = Lifecycle([bans, csat])
        flood = Flood(TortoiseAbuseStore(), store, queue, transactions, FloodSettings())
        now = datetime.now(UTC)
        count = [0]

        def one_count() -> None:  # 50 senders in turn, well under the limit
            count[0] += 1
            flood.over_limit("telegram", str(count[0] % 50), now + timedelta(
                milliseconds=count[0]))

        made = await _customers(store, transactions, 100)
        content = Content(content_type="text", text="a new question")
        turn = [0]

        async def absorbs_in_one_unit() -> list[float]:
            """Timed inside one open transaction: intake's unit is open already."""
            async def work(unit: Unit) -> list[float]:
                out = []
                for n in range(samples):
                    customer, identity, _ = made[n % len(made)]
                    t0 = time.perf_counter()
                    await lifecycle.absorbs(unit, customer, identity, content)
                    out.append(time.perf_counter() - t0)
                return out

            return await transactions.run(work)

        async def survey() -> None:
            _, _, conversation = made[turn[0] % len(made)]
            turn[0] += 1
            closure = Closure("1", "Olga", CloseReason.OPERATOR)
            answered = conversation.__class__(**{**{f: getattr(conversation, f) for f in
                                                    conversation.__slots__},
                                                 "first_response_at": now})

            class Rollback(Exception):
                pass

            async def work(unit: Unit) -> None:
                await csat.closed(unit, answered, closure)
                raise Rollback

            with contextlib.suppress(Rollback):
                await transactions.run(work)

        for _ in range(50):  # warm-up
            one_count()
        return {
            "db": db, "samples": samples,
            "flood_count_per_message": summary_ms(_timed(one_count, samples)),
            "absorbs_checks_per_new_conversation": summary_ms(await absorbs_in_one_unit()),
            "survey_on_close": summary_ms(await _timed_async(survey, samples)),
            "canned_render": summary_ms(_timed(lambda: render(TEMPLATE, SAMPLE), samples)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.feedback_hooks")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    emit(f"feedback_hooks-{args.db}", asyncio.run(run(args.db, args.samples)))


if __name__ == "__main__":
    main()

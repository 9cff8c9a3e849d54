"""The SLA sweep: one indexed query for deadlines that need attention, then conditional claims
so each reminder and each breach happens once, whatever the restarts or processes.

Posts never go out inline: reminders are notices in the conversation's topic, escalations and
digests are General-topic texts, all queued in the outbox in the sweep's own transaction.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup

from core import texts
from core.delivery.queue import Queue
from core.model import DeskPost
from core.sla.ack import human_duration
from core.sla.policy import SlaPolicy
from core.sla.ports import DueDeadline, SlaStore
from core.unit import Transactions, Unit

logger = logging.getLogger(__name__)

TARGET_LABELS = {"first_response": "first response", "next_response": "next response",
                 "resolution": "resolution"}
_LIST_LIMIT = 30  # lines in one General post; the rest is counted, not listed


@dataclass(frozen=True, slots=True)
class SweepResult:
    reminded: int = 0
    breached: int = 0


class SlaSweeper:
    def __init__(self, sla: SlaStore, transactions: Transactions, queue: Queue,
                 policy: SlaPolicy, batch: int = 1000,
                 on_duty_of: Callable[[str], Sequence[str]] | None = None) -> None:
        self._sla = sla
        # A department's own on-duty operators (none: the service's).
        self._on_duty_of = on_duty_of or (lambda _department: ())
        self._transactions = transactions
        self._queue = queue
        self._policy = policy
        self._desk_chat = queue.desk_chat
        self._batch = batch

    def reconfigure(self, policy: SlaPolicy) -> None:
        """A config reload: the next deadline, acknowledgement and reminder use `policy`
        (one reference swapped; clocks already running keep their due times)."""
        self._policy = policy

    async def sweep(self) -> SweepResult:
        """Remind before deadlines, escalate breaches. Safe to run from any number of
        processes at once and at any time after a restart."""
        reminded = breached = 0
        for _ in range(10):  # a backlog is worked off in batches, not in one huge transaction
            now = self._transactions.now()
            due = await self._sla.due_deadlines(now, self._batch)
            if not due:
                break
            r, b = await self._transactions.run(functools.partial(self._act, due=due))
            reminded, breached = reminded + r, breached + b
            if len(due) < self._batch:
                break
        if reminded or breached:
            logger.info("SLA sweep: %d reminder(s), %d breach(es)", reminded, breached)
        return SweepResult(reminded, breached)

    async def _act(self, unit: Unit, due: Sequence[DueDeadline]) -> tuple[int, int]:
        now = unit.now
        to_remind = [d.id for d in due if d.due_at > now and not d.reminded]
        to_breach = [d.id for d in due if d.due_at <= now]
        reminded = await self._sla.claim_reminders(to_remind, now)
        debounce = self._policy.title_debounce
        breached = await self._sla.record_breaches(
            to_breach, now, now + debounce if debounce is not None else None)
        await self._queue.notices(unit, [
            (d.conversation_id, self._reminder(d, now)) for d in due if d.id in reminded
        ])
        new = [d for d in due if d.id in breached]
        for group in dict.fromkeys(d.desk_chat for d in new):
            # Each department's breaches go to its own group's General topic.
            await self._queue.general(unit, DeskPost(self._escalation(
                [d for d in new if d.desk_chat == group])), group)
        return len(reminded), len(breached)

    async def digest(self) -> int:
        """Post the conversations still waiting past a target, if any (hourly)."""
        now = self._transactions.now()
        overdue = await self._sla.overdue(now, _LIST_LIMIT + 1)
        if not overdue:
            return 0
        items = [{"link": self._link(d), "target": TARGET_LABELS.get(d.kind, d.kind),
                  "late": human_duration(now - d.due_at, "en")} for d in overdue[:_LIST_LIMIT]]
        html = texts.render("sla_digest", count=len(overdue), items=items,
                            more=max(0, len(overdue) - _LIST_LIMIT))
        await self._transactions.run(lambda unit: self._queue.general(unit, DeskPost(html)))
        return len(overdue)

    def _link(self, d: DueDeadline) -> Markup:
        return Markup(texts.topic_link(d.desk_chat or self._desk_chat, d.topic_id,
                                       d.conversation_id))

    def _reminder(self, d: DueDeadline, now: datetime) -> str:
        team = self._on_duty_of(d.department) if d.department else ()
        people: Sequence[int | str] = (d.assignee_id,) if d.assignee_id else (
            team or self._policy.on_duty)
        who = " ".join(texts.mention(p) for p in people) or "Operators:"
        zone = self._policy.channel(d.channel, d.department).hours.zone
        left = max(d.due_at - now, timedelta(seconds=1))
        return texts.render("sla_reminder", who=Markup(who),
                            target=TARGET_LABELS.get(d.kind, d.kind).capitalize(),
                            left=human_duration(left, "en"),
                            due=d.due_at.astimezone(zone).strftime("%H:%M %Z"))

    def _escalation(self, new: Sequence[DueDeadline]) -> str:
        admins = " ".join(texts.mention(a, "admin") for a in self._policy.admins) or "Admins"
        items = []
        for d in new[:_LIST_LIMIT]:
            zone = self._policy.channel(d.channel, d.department).hours.zone
            items.append({"link": self._link(d),
                          "target": TARGET_LABELS.get(d.kind, d.kind),
                          "due": d.due_at.astimezone(zone).strftime("%d.%m %H:%M %Z")})
        return texts.render("sla_escalation", admins=Markup(admins), items=items,
                            more=max(0, len(new) - _LIST_LIMIT))


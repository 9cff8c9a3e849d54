"""Service-level controls in the group: `/snooze` a conversation's deadlines, and `/report`
(as a command and as the scheduled daily post). Each is one unit of work whose posts go
through the outbox."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import texts
from core.delivery.queue import Queue
from core.model import DeskPost
from core.ports import Store
from core.report_sections import ReportSection
from core.sla import reports
from core.sla.policy import SlaPolicy
from core.sla.ports import SlaStore
from core.unit import Transactions, Unit

_SPAN = re.compile(r"^(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$")
_CLOCK = re.compile(r"^(tomorrow\s+)?([01]?\d|2[0-3]):([0-5]\d)$")


def parse_snooze(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """`2h`, `1h30m`, `1d`, `18:30` (the next such time) or `tomorrow 10:00`; None if not."""
    value = text.strip().lower()
    span = _SPAN.match(value)
    if value and span and any(span.groups()):
        d, h, m = (int(g or 0) for g in span.groups())
        return now + timedelta(days=d, hours=h, minutes=m)
    at = _CLOCK.match(value)
    if not at:
        return None
    local = now.astimezone(zone)
    day = local.date() + timedelta(days=1 if at.group(1) else 0)
    when = datetime.combine(day, time(int(at.group(2)), int(at.group(3))), zone)
    if when <= now and not at.group(1):
        when = datetime.combine(day + timedelta(days=1), when.time(), zone)
    return when


@dataclass(frozen=True, slots=True)
class ReportScope:
    """The departments (core/departments) a group's report covers, and their names."""

    departments: frozenset[str]
    label: str


class SlaControls:
    def __init__(self, store: Store, sla: SlaStore, transactions: Transactions, queue: Queue,
                 policy: SlaPolicy | None, sections: Sequence[ReportSection] = (),
                 scopes: Mapping[str, ReportScope] | None = None) -> None:
        self._store = store
        # Department groups (by chat id): a report there covers their departments only.
        self._scopes = dict(scopes or {})
        self._sections = sections  # other capabilities' lines, posted under ours
        self._sla = sla
        self._transactions = transactions
        self._queue = queue
        self._policy = policy

    def reconfigure(self, policy: SlaPolicy) -> None:
        """A config reload: the next deadline, acknowledgement and reminder use `policy`
        (one reference swapped; clocks already running keep their due times)."""
        self._policy = policy

    @property
    def zone(self) -> ZoneInfo:
        return self._policy.default.hours.zone if self._policy else ZoneInfo("UTC")

    async def snooze(self, topic_id: int, operator_name: str, until_text: str, *,
                     desk_chat: str | None = None) -> datetime | None:
        """Postpone the conversation's running deadlines (their reminders and breaches)."""

        async def work(unit: Unit) -> datetime | None:
            until = parse_snooze(until_text, unit.now, self.zone)
            conversation = await self._store.conversation_by_topic(topic_id, desk_chat)
            if conversation is None:
                return None
            if until is None:
                await self._queue.notice(unit, conversation.id, texts.render("bad_snooze"))
            else:
                await self._sla.postpone_deadlines(conversation.id, until)
                shown = until.astimezone(self.zone).strftime("%d.%m %H:%M %Z")
                await self._queue.notice(unit, conversation.id, texts.render(
                    "snoozed", operator=operator_name, until=shown))
            return until

        return await self._transactions.run(work)

    async def daily(self) -> None:
        """The daily report with its chart: the whole desk's in the operator group, and each
        department group's own in that group."""
        await self.report("today", chart=True)
        for group in self._scopes:
            await self.report("today", chart=True, desk_chat=group)

    async def report(self, period: str, topic_id: int | None = None, chart: bool = False,
                     desk_chat: str | None = None) -> str:
        """Compute a report and queue it as a post (in General unless `topic_id`) of the
        group it was asked in (`desk_chat`, None: the operator group); with `chart`, a PNG
        chart follows it (the daily report). A department group's covers its departments."""
        scope = self._scopes.get(desk_chat) if desk_chat else None
        now = self._transactions.now()
        png = None
        if period not in reports.PERIODS:
            html = texts.render("bad_report")
        else:
            since, until = reports.period_bounds(period, now, self.zone)
            conversations, deadlines = await self._sla.history(since, until)
            if scope is not None:
                conversations = [c for c in conversations if c.department in scope.departments]
                ids = {c.id for c in conversations}
                deadlines = [d for d in deadlines if d.conversation_id in ids]
            report = reports.compute(period, since, until, conversations, deadlines, self.zone)
            names = await self._store.operator_names(sorted(report.per_operator))
            html = reports.render(report, self.zone, names)
            if scope is not None:
                html = f"{texts.render('_report_scope', label=scope.label)}\n{html}"
            for section in self._sections if scope is None else ():
                extra = await section.report_html(since, until)
                if extra:
                    html = f"{html}\n{extra}"
            if chart:
                png = reports.chart(report, names)

        async def post(unit: Unit) -> None:
            await self._queue.general(unit, DeskPost(html, topic_id), desk_chat)
            if png is not None:
                await self._queue.general(unit, DeskPost(
                    texts.render("chart_caption", period=period), topic_id,
                    base64.b64encode(png).decode()), desk_chat)

        await self._transactions.run(post)
        return html

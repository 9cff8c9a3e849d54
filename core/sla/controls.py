"""Operator controls in a conversation's topic: take (assign to me), reopen, snooze; and the
`/report` command. Each is one transaction plus a notice in the topic through the outbox."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import texts
from core.clock import Clock
from core.delivery.notices import enqueue_general, enqueue_notice, enqueue_reopen_topic
from core.model import DESK, Conversation, ConversationStatus
from core.ports import SlaStorePort, StorePort
from core.sla import reports
from core.sla.policy import SlaPolicy

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


class DeskControls:
    def __init__(self, store: StorePort, sla: SlaStorePort, clock: Clock,
                 policy: SlaPolicy | None, desk_chat_id: str,
                 wake: Callable[[set[str]], None]) -> None:
        self._store = store
        self._sla = sla
        self._clock = clock
        self._policy = policy
        self._desk_chat = desk_chat_id
        self._wake = wake

    @property
    def zone(self) -> ZoneInfo:
        return self._policy.default.hours.zone if self._policy else ZoneInfo("UTC")

    async def _notice(self, conversation_id: int, html: str) -> None:
        await enqueue_notice(self._store, self._clock.now(), self._desk_chat, conversation_id,
                             html)

    async def take(self, topic_id: int, operator_id: str, operator_name: str
                   ) -> Conversation | None:
        async with self._store.transaction():
            conversation = await self._store.conversation_by_topic(topic_id)
            if conversation is None:
                return None
            await self._store.update_conversation(conversation.id, assignee_id=operator_id)
            await self._notice(conversation.id, texts.render(
                "taken", operator=operator_name, conversation_id=conversation.id))
        self._wake({DESK})
        return conversation

    async def reopen(self, topic_id: int, operator_name: str) -> bool:
        async with self._store.transaction():
            conversation = await self._store.conversation_by_topic(topic_id)
            if conversation is None or conversation.status is not ConversationStatus.CLOSED:
                return False
            done = await self._sla.reopen_conversation(conversation.id)
            if done:
                await enqueue_reopen_topic(self._store, self._clock.now(), self._desk_chat,
                                           conversation.id)
            name = "reopened" if done else "cannot_reopen"
            await self._notice(conversation.id, texts.render(
                name, operator=operator_name, conversation_id=conversation.id))
        self._wake({DESK})
        return done

    async def snooze(self, topic_id: int, operator_name: str, until_text: str
                     ) -> datetime | None:
        now = self._clock.now()
        until = parse_snooze(until_text, now, self.zone)
        async with self._store.transaction():
            conversation = await self._store.conversation_by_topic(topic_id)
            if conversation is None:
                return None
            if until is None:
                await self._notice(conversation.id, texts.render("bad_snooze"))
            else:
                await self._sla.postpone_deadlines(conversation.id, until)
                shown = until.astimezone(self.zone).strftime("%d.%m %H:%M %Z")
                await self._notice(conversation.id, texts.render(
                    "snoozed", operator=operator_name, until=shown))
        self._wake({DESK})
        return until

    async def report(self, period: str, topic_id: int | None = None, chart: bool = False
                     ) -> str:
        """Compute a report and queue it as a post (in General unless `topic_id`); with
        `chart`, a PNG chart follows it (the daily report)."""
        now = self._clock.now()
        png = None
        if period not in reports.PERIODS:
            html = texts.render("bad_report")
        else:
            since, until = reports.period_bounds(period, now, self.zone)
            conversations, deadlines = await self._sla.history(since, until)
            report = reports.compute(period, since, until, conversations, deadlines, self.zone)
            names = await self._sla.operator_names(sorted(report.per_operator))
            html = reports.render(report, self.zone, names)
            if chart:
                png = reports.chart(report, names)
        async with self._store.transaction():
            await enqueue_general(self._store, now, self._desk_chat, html, topic_id=topic_id)
            if png is not None:
                await enqueue_general(self._store, now, self._desk_chat,
                                      texts.render("chart_caption", period=period),
                                      topic_id=topic_id, png=base64.b64encode(png).decode())
        self._wake({DESK})
        return html

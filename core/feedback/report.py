"""Survey lines of the report (`/report` and the daily report): CSAT (the share of ratings
4–5, with their count) overall, per operator (the one who answered last) and per channel."""

from __future__ import annotations

import html
from datetime import datetime

from core.feedback.ports import SurveyStore, Tally


class CsatReport:
    def __init__(self, store: SurveyStore) -> None:
        self._store = store

    async def report_html(self, since: datetime, until: datetime) -> str | None:
        overall, operators, channels = await self._store.tallies(since, until)
        if not overall.rated:
            return None
        lines = ["⭐ <b>Satisfaction (CSAT)</b>", f"Overall: {_tally(overall)}"]
        if operators:
            lines.append("By operator: " + ", ".join(
                f"{html.escape(t.name, quote=False)} {_tally(t)}" for t in operators))
        if channels:
            lines.append("By channel: " + ", ".join(
                f"{html.escape(t.name, quote=False)} {_tally(t)}" for t in channels))
        return "\n".join(lines)


def _tally(t: Tally) -> str:
    return f"{t.percent}% ({t.satisfied}/{t.rated})"

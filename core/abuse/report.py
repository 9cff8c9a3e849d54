"""Abuse lines of the report (`/report` and the daily report): customers under a ban, their
messages kept off the desk, and flood messages combined into one post."""

from __future__ import annotations

from datetime import datetime

from core.abuse.ports import AbuseStore


class AbuseReport:
    def __init__(self, store: AbuseStore) -> None:
        self._store = store

    async def report_html(self, since: datetime, until: datetime) -> str | None:
        stats = await self._store.stats(since, until)
        if not (stats.banned or stats.suppressed or stats.combined):
            return None
        return "\n".join([
            "🛡 <b>Abuse protection</b>",
            f"Banned customers: {stats.banned}",
            f"Suppressed messages: {stats.suppressed}",
            f"Flood messages combined: {stats.combined}",
        ])

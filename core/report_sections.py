"""Parts of the report (`/report`, the daily report) that capabilities add: each gives its
lines for a period, and the report posts them under its own."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class ReportSection(Protocol):
    async def report_html(self, since: datetime, until: datetime) -> str | None:
        """The section as HTML, or None when it has nothing for the period."""
        ...

"""Self-service lines of the report (`/report` and the daily report): conversations the bot
took, served alone, handed over, the "That helped" rate and the top questions it had no
answer to (candidates for new FAQ entries)."""

from __future__ import annotations

import html
from datetime import datetime

from core.selfservice.ports import SelfServiceStore

TOP_UNANSWERED = 5


class SelfServiceReport:
    def __init__(self, store: SelfServiceStore) -> None:
        self._store = store

    async def report_html(self, since: datetime, until: datetime) -> str | None:
        stats = await self._store.stats(since, until, TOP_UNANSWERED)
        if not stats.bot_conversations:
            return None
        rate = f"{stats.helped / stats.answered:.0%} ({stats.helped}/{stats.answered})" \
            if stats.answered else "—"
        lines = [
            "🤖 <b>Self-service</b>",
            f"Conversations the bot took: {stats.bot_conversations}",
            f"Self-served: {stats.self_served}",
            f"Handed over: {stats.handed_over}",
            f"“That helped” rate: {rate}",
        ]
        if stats.unanswered:
            lines.append("Top unanswered questions:")
            lines += [f"• {html.escape(text, quote=False)}"
                      + (f" ×{count}" if count > 1 else "") for text, count in stats.unanswered]
        return "\n".join(lines)

"""What metrics and readiness read from the database: small aggregate queries, each one
index-backed (delivery_due_idx), cheap enough for a scrape every few seconds."""

from __future__ import annotations

from datetime import datetime

from storage.base import TortoiseBase, to_us


class ObservationStore(TortoiseBase):
    async def ping(self) -> None:
        await self._raw("SELECT 1", [])

    async def scrape_counts(self) -> tuple[dict[str, int], int]:
        """Rows waiting or being sent per destination ("desk" or a channel), and the SLA
        breaches, in one statement: a scrape waits for one round trip, not two."""
        rows = await self._raw(
            "SELECT target, COUNT(*) AS n FROM delivery WHERE status IN ('pending', 'sending')"
            " GROUP BY target UNION ALL SELECT NULL, COUNT(*) FROM sla_breach", [])
        pending = {str(r["target"]): int(r["n"]) for r in rows if r["target"] is not None}
        breaches = sum(int(r["n"]) for r in rows if r["target"] is None)
        return pending, breaches

    async def overdue_pending(self, before: datetime) -> int:
        """Pending rows that were due before `before` and still wait (a stuck outbox)."""
        rows = await self._raw(
            "SELECT COUNT(*) AS n FROM delivery WHERE status = 'pending' AND due_us < ?",
            [to_us(before)])
        return int(rows[0]["n"])

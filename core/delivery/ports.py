"""What the outbox needs from storage: the delivery table, FIFO per lane."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.model import Action, Delivery, DeliveryStatus


@dataclass(frozen=True, slots=True)
class LaneClaim:
    """What a lane task's next claim took, and when the lane's next row left behind becomes
    due (None: nothing pending is left in the lane). A lane that ends with a row left
    behind must tell the dispatcher, which could not see it while the lane was running."""

    rows: list[Delivery]
    next_due: datetime | None = None




class DeliveryStore(Protocol):
    """The outbox table. Writes inside a unit of work join its transaction."""

    async def enqueue(
        self, *, lane: str, target: str, chat_id: str, action: Action, now: datetime,
        message_id: int | None = None, conversation_id: int | None = None,
        group_key: str | None = None, not_before: datetime | None = None,
        body: dict[str, Any] | None = None,
    ) -> int: ...
    async def enqueue_relay(
        self, *, lane: str, target: str, chat_id: str, message_id: int,
        conversation_id: int | None, now: datetime, claim_until: datetime | None,
        lane_empty: bool = False,
    ) -> Delivery:
        """Inside intake's transaction: a relay row, born claimed (`sending`) when
        `claim_until` is given and its lane is empty (`lane_empty`: the caller knows it;
        else the store says, where it can tell atomically)."""
        ...
    async def enqueue_relays(
        self, rows: Sequence[tuple[str, str, str, int, int]], now: datetime
    ) -> None:
        """Queue many RELAY rows due now in one go: (lane, target, chat id, message id,
        conversation id) each, FIFO in the order given."""
        ...
    async def postpone_group(self, lane: str, group_key: str, until: datetime) -> None: ...
    async def claim_heads(
        self, now: datetime, limit: int, exclude_lanes: set[str], lease_until: datetime | None,
        target: str,
    ) -> list[Delivery]:
        """First rows of idle lanes; marked `sending` with a lease unless `lease_until` is
        None (the only process on the database keeps its claims in memory)."""
        ...
    async def claim_next(
        self, lane: str, now: datetime, limit: int, lease_until: datetime | None,
        after_id: int = 0, held: Sequence[int] = (),
    ) -> LaneClaim: ...
    async def finish(
        self, delivery_id: int, status: DeliveryStatus, error: str | None = None
    ) -> None: ...
    async def complete(
        self, delivery_ids: Sequence[int], copies: Sequence[tuple[int, str, str, str]] = ()
    ) -> None:
        """Mark rows done and record the links of the copies they made, (message id,
        platform, chat id, platform message id), as one unit; a link already recorded
        stays as it is."""
        ...
    async def reschedule(
        self, delivery_id: int, at: datetime, error: str | None, attempts: int
    ) -> None: ...
    async def release(self, delivery_ids: Sequence[int]) -> None: ...
    async def extend_leases(self, delivery_ids: Sequence[int], until: datetime) -> None: ...
    async def release_stale(self, now: datetime) -> int: ...
    async def release_orphaned(self) -> int:
        """Rows in flight of processes known to be dead, due again at once (0 where the
        store cannot tell, e.g. with one process on SQLite)."""
        ...
    async def next_due_at(
        self, exclude_lanes: set[str] | None = None, targets: Sequence[str] | None = None,
    ) -> datetime | None: ...
    async def overdue_heads(
        self, before: datetime, exclude_lanes: set[str], targets: Sequence[str],
        limit: int = 20,
    ) -> list[Delivery]:
        """Claimable lane heads of `targets` due before `before`, outside `exclude_lanes`."""
        ...
    async def count_deliveries(self, status: DeliveryStatus | None = None) -> int: ...

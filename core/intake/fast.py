"""The store's one-statement intake (PostgreSQL), for the two common cases: a customer
already waiting writes again; an operator answers a conversation answered before. The store
declines everything else (None), and intake's general unit decides it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from core.model import IntakeResult, Outcome
from core.ports import DuplicateError, Handover
from core.unit import Transactions, Unit


async def run_fast(transactions: Transactions,
                   call: Callable[[datetime, datetime | None], Awaitable[Handover | None]]
                   ) -> IntakeResult | None:
    """`call(now, lease)` is the store's statement; what it committed goes to the outbox
    as a unit's would."""
    now = transactions.now()
    try:
        handover = await call(now, transactions.birth_lease(None))
    except DuplicateError:  # the platform message's origin link exists: re-delivered
        return IntakeResult(Outcome.DUPLICATE)
    if handover is None:
        return None
    unit = Unit(now=now, stored=[handover.message])
    if handover.claimed:
        unit.born.append(handover)
    else:
        unit.touched.add(handover.delivery.target)
    transactions.committed(unit)
    message = handover.message
    return IntakeResult(Outcome.STORED, message.id, message.conversation_id)

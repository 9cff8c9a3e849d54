"""Intake: platform updates → canonical messages and outbox rows, in one unit of work each.

An adapter may acknowledge an update to its platform only after these methods return: then
the message and every delivery it needs are committed, and a re-delivered update is a
no-op (deduplicated on the MessageLink key).

`IntakeService` is what the adapters call; the work is done by one class per direction
(customers.py, operators.py) and one for the other platform events (updates.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from core.delivery.queue import Queue
from core.intake.customers import CustomerIntake
from core.intake.deskref import DeskRef
from core.intake.held import HeldRun, settle_current
from core.intake.operators import OperatorIntake
from core.intake.ports import FastIntake, HeldMessageStore
from core.intake.relays import Relays, RelayStore
from core.intake.updates import UpdateIntake
from core.lifecycle import Lifecycle
from core.model import (
    InboundChannelAnswer,
    InboundCustomerMessage,
    InboundEdit,
    InboundOperatorMessage,
    IntakeResult,
    Outcome,
)
from core.ports import Store
from core.unit import Transactions

__all__ = ["DeskRef", "IntakeService", "IntakeStore", "Outcome"]


class IntakeStore(Store, RelayStore, FastIntake, HeldMessageStore, Protocol):
    pass


class IntakeService:
    def __init__(self, store: IntakeStore, transactions: Transactions, queue: Queue,
                 lifecycle: Lifecycle, desk: DeskRef, album_wait: timedelta) -> None:
        relays = Relays(store, transactions, album_wait)
        self.customers = CustomerIntake(store, transactions, relays, queue, lifecycle)
        self.operators = OperatorIntake(store, transactions, relays, queue, lifecycle, desk)
        self.updates = UpdateIntake(store, transactions, queue, desk)

    def held_run(self) -> HeldRun:
        """A poller's run of one chat's updates: held messages are stored together."""
        return self.customers.held_run()

    # Anything else of a run is taken in after the run's held messages are stored (order).

    async def relay_customer_to_desk(self, inbound: InboundCustomerMessage) -> IntakeResult:
        return await self.customers.relay_customer_to_desk(inbound)

    async def relay_operator_to_customer(self, inbound: InboundOperatorMessage) -> IntakeResult:
        await settle_current()
        return await self.operators.relay_operator_to_customer(inbound)

    async def add_note(self, inbound: InboundOperatorMessage) -> IntakeResult:
        await settle_current()
        return await self.operators.add_note(inbound)

    async def relay_channel_answer_to_desk(self, inbound: InboundChannelAnswer) -> IntakeResult:
        await settle_current()
        return await self.operators.relay_channel_answer_to_desk(inbound)

    async def apply_edit(self, inbound: InboundEdit) -> IntakeResult:
        await settle_current()
        return await self.updates.apply_edit(inbound)

    async def mark_removed(self, platform: str, chat_id: str, message_id: str,
                           at: datetime) -> IntakeResult:
        await settle_current()
        return await self.updates.mark_removed(platform, chat_id, message_id, at)

    async def set_reachable(self, channel: str, user_id: str, reachable: bool) -> bool:
        await settle_current()
        return await self.updates.set_reachable(channel, user_id, reachable)

    async def greet(self, channel: str, chat_id: str, text: str | None = None) -> None:
        await settle_current()
        await self.updates.greet(channel, chat_id, text)

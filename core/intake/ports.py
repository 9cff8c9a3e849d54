"""What intake needs from storage beyond the shared stores: the one-statement path."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.model import InboundCustomerMessage, InboundOperatorMessage
from core.ports import Handover


class FastIntake(Protocol):
    """Intake's common cases in one statement (PostgreSQL: migration 0004)."""

    # Intake's common cases in one statement, where the database can (PostgreSQL): None
    # when the store has no such path or the case is not the common one (then intake runs
    # its general transaction). Raises DuplicateError for a platform message stored before.
    @property
    def fast_intake(self) -> bool:
        """Whether calling them can ever return something."""
        ...

    async def fast_customer_message(
        self, inbound: InboundCustomerMessage, now: datetime, desk_chat_id: str,
        lease_until: datetime | None,
    ) -> Handover | None: ...
    async def fast_operator_message(
        self, inbound: InboundOperatorMessage, now: datetime, answered: bool,
        lease_until: datetime | None, desk_chat: str | None = None,
    ) -> Handover | None:
        """`desk_chat`: the group the topic is in, as `Conversation.desk_chat` (None: the
        operator group): a topic id is unique only within its group."""
        ...

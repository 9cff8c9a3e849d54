"""What the outbox tells an observer (metrics) about finished platform calls. The core knows
no metrics library: bots/ plugs one in through `Outbox.observe`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.model import Delivery


class DeliveryEvents(Protocol):
    def finished(self, deliveries: Sequence[Delivery], outcome: str, now: datetime) -> None:
        """One step's rows ended an attempt: delivered, not_modified, flood_wait, yielded
        (their lane gave its worker back until a window opens), retry, unreachable, dead or
        interrupted (back to the queue as they were)."""

    def flood_wait(self, target: str, seconds: float) -> None:
        """The platform asked `target` ("desk" or a channel) to pause this long."""


class NoEvents:
    def finished(self, deliveries: Sequence[Delivery], outcome: str, now: datetime) -> None:
        return None

    def flood_wait(self, target: str, seconds: float) -> None:
        return None

"""config.yaml's `outbox:` section: the delivery workers' retries, backoff, leases, album
buffering and surge handling."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from bots.config_errors import issue
from bots.config_types import Duration, Int, Section
from bots.durations import format_duration


class OutboxConfig(Section):
    """Delivery workers: retries, backoff and album buffering."""

    max_attempts: Int = Field(default=10, ge=1, le=100)
    album_wait: Duration = Field(
        default=timedelta(seconds=1), ge=timedelta(0), le=timedelta(minutes=1)
    )
    workers: Int = Field(default=8, ge=1, le=64)
    backoff_base: Duration = Field(
        default=timedelta(seconds=1), gt=timedelta(0), le=timedelta(hours=1)
    )
    backoff_max: Duration = Field(
        default=timedelta(minutes=5), gt=timedelta(0), le=timedelta(days=1)
    )
    # How long a claimed delivery belongs to this process without a heartbeat; after a
    # crash its rows are due again this long after the last heartbeat (PostgreSQL).
    lease: Duration = Field(
        default=timedelta(seconds=30), ge=timedelta(seconds=1), le=timedelta(minutes=10)
    )
    # Surge (core/delivery/spares.py, first_post.py): topics made ahead while the group's
    # budget is idle (in each group with its own budget), and a new conversation's first
    # post carrying the card; 0: neither. A few by default: a burst of new customers costs
    # one send each instead of two.
    spare_topics: Int = Field(default=3, ge=0, le=500)
    # A customer's texts held while the group's budget is spent go out as one post, and
    # customers waiting for a first answer go first.
    coalesce: bool = True

    @model_validator(mode="after")
    def _check_backoff(self) -> OutboxConfig:
        if self.backoff_base > self.backoff_max:
            raise issue(
                f"must not be longer than backoff_max ({format_duration(self.backoff_max)})",
                "backoff starts at backoff_base and doubles up to backoff_max",
                field_name="backoff_base",
            )
        return self

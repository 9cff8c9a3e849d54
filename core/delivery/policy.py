"""The outbox's one error policy: what a failed platform call does to its rows.

429 pauses the bucket and reschedules without counting a failure; network and 5xx back off
exponentially with jitter and are dead-lettered after `max_attempts` (operators are told);
a blocked customer marks the identity unreachable; a deleted topic is made again, a closed
one reopened; other refusals are dead-lettered with a notice. A send stopped before it
started (the process is stopping) goes back to the queue as it was.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import texts
from core.delivery.events import DeliveryEvents, NoEvents
from core.delivery.queue import Queue
from core.delivery.ratelimit import Interrupted, WaitTooLong
from core.delivery.relay import Relayer, RelayStore, Step
from core.errors import (
    DeliveryError,
    NotModified,
    PermanentError,
    RecipientUnreachable,
    RetryAfter,
    TopicClosed,
    TopicMissing,
)
from core.model import DESK, Action, DeliveryStatus, DeskPost, desk_lane
from core.unit import Transactions, Unit

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    max_attempts: int = 10
    workers: int = 8
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    lease: timedelta = timedelta(seconds=30)
    exclusive: bool = True  # the only process on this database (SQLite): reclaim everything
    # The safety net: every `rescue_every` seconds, heads overdue by more than
    # `rescue_after` that nobody was woken for are dispatched (and logged).
    rescue_every: float = 5.0
    rescue_after: float = 5.0
    # PostgreSQL: how often rows held by processes that died are given back.
    reap_every: float = 1.0


class DeliveryPolicy:
    """Runs one step through the relayer and applies the error policy to its rows."""

    def __init__(self, store: RelayStore, transactions: Transactions, queue: Queue,
                 relayer: Relayer, settings: OutboxSettings) -> None:
        self._store = store
        self._transactions = transactions
        self._queue = queue
        self._relayer = relayer
        self._settings = settings
        self.events: DeliveryEvents = NoEvents()

    async def run(self, step: Step, retries_left: int = 2) -> bool:
        """True when the lane may go on; False when it must pause (FIFO holds)."""
        outcome = await self._attempt(step, retries_left)
        self.events.finished(step.deliveries, outcome, self._transactions.now())
        return outcome in ("delivered", "not_modified", "unreachable", "dead")

    async def _attempt(self, step: Step, retries_left: int) -> str:
        """The step's outcome (see DeliveryEvents.finished)."""
        try:
            await self._relayer.execute(step)
        except NotModified:
            await self._store.complete([d.id for d in step.deliveries])
            return "not_modified"
        except Interrupted:
            await self._store.release([d.id for d in step.deliveries])
            return "interrupted"
        except WaitTooLong as exc:
            return await self._yield(step, exc)
        except RetryAfter as exc:
            # Not a failure: the platform set a pause. Nothing goes to that bucket before it
            # ends (the limiter blocks every lane that shares it).
            if exc.bucket:
                self._relayer.limiter.pause(exc.bucket, exc.seconds)
            self.events.flood_wait(step.deliveries[0].target, exc.seconds)
            at = self._transactions.now() + timedelta(seconds=exc.seconds)
            await self._reschedule(step, at, str(exc), count=False)
            return "flood_wait"
        except (TopicMissing, TopicClosed) as exc:
            if step.deliveries[0].conversation_id is None:
                # A post into a topic of no conversation (/report asked for in a topic that
                # was deleted since): no topic to make again, and retrying would hold the
                # General lane for ever. It can't be delivered.
                await self._dead(step, str(exc))
                return "dead"
            if retries_left <= 0:
                return await self._transient(step, exc)
            try:
                await self._repair_topic(step, exc)
            except WaitTooLong as busy:  # reopening waits for the group's window too
                return await self._yield(step, busy)
            return await self._attempt(step, retries_left - 1)
        except RecipientUnreachable as exc:
            await self._unreachable(step, exc)
            return "unreachable"
        except PermanentError as exc:
            await self._dead(step, str(exc))
            return "dead"
        except DeliveryError as exc:
            return await self._transient(step, exc)
        except Exception as exc:  # a bug in an adapter must not stop the outbox
            logger.exception("unexpected error delivering %s", [d.id for d in step.deliveries])
            return await self._transient(step, exc)
        return "delivered"

    async def _yield(self, step: Step, exc: WaitTooLong) -> str:
        """Not a failure either: the lane gives its worker back until the group's window
        opens (see Desks.patience)."""
        at = self._transactions.now() + timedelta(seconds=exc.seconds)
        await self._reschedule(step, at, str(exc), count=False)
        return "yielded"

    async def _repair_topic(self, step: Step, exc: Exception) -> None:
        first = step.deliveries[0]
        if first.conversation_id is None:
            raise exc
        conversation = await self._store.get_conversation(first.conversation_id)
        if conversation.topic_id is None:
            return
        if isinstance(exc, TopicMissing):
            logger.warning("topic %s is gone; conversation %s gets a new one",
                           conversation.topic_id, conversation.id)
            await self._store.forget_topic(conversation.topic_id, conversation.desk_chat)
        else:
            logger.info("topic %s is closed; reopening it", conversation.topic_id)
            await self._relayer.topics.reopen(conversation.topic_id,
                                              self._relayer.desks.of(conversation))

    async def _transient(self, step: Step, exc: BaseException) -> str:
        attempts = max(d.attempts for d in step.deliveries) + 1
        if attempts >= self._settings.max_attempts:
            await self._dead(step, f"{type(exc).__name__}: {exc}", attempts)
            return "dead"
        delay = min(self._settings.backoff_base * 2 ** (attempts - 1), self._settings.backoff_max)
        delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
        logger.warning("delivery %s failed (%s), attempt %d, retry in %.1fs",
                       [d.id for d in step.deliveries], exc, attempts, delay)
        await self._reschedule(step, self._transactions.now() + timedelta(seconds=delay),
                               str(exc), count=True)
        return "retry"

    async def _reschedule(self, step: Step, at: datetime, error: str, *, count: bool) -> None:
        async def work(unit: Unit) -> None:
            for d in step.deliveries:
                await self._store.reschedule(
                    d.id, at, error[:500], d.attempts + 1 if count else d.attempts
                )

        await self._transactions.run(work)

    async def _unreachable(self, step: Step, exc: RecipientUnreachable) -> None:
        """Blocked or denied: no retry storm; mark the identity and tell operators."""
        first = step.deliveries[0]

        async def work(unit: Unit) -> None:
            identity = await self._store.find_identity_by_chat(first.target, first.chat_id)
            if identity is not None and identity.reachable:
                await self._store.set_reachable(identity.id, False)
            for d in step.deliveries:
                await self._store.finish(d.id, DeliveryStatus.FAILED, str(exc)[:500])
            if first.conversation_id is not None and first.action is not Action.TEXT:
                await self._queue.notice(unit, first.conversation_id,
                                         texts.render("not_delivered_blocked"))

        await self._transactions.run(work)

    async def _dead(self, step: Step, reason: str, attempts: int | None = None) -> None:
        first = step.deliveries[0]
        logger.error("delivery %s dead-lettered: %s", [d.id for d in step.deliveries], reason)

        async def work(unit: Unit) -> None:
            for d in step.deliveries:
                await self._store.finish(d.id, DeliveryStatus.DEAD, reason[:500])
            if first.target != DESK and first.conversation_id is not None:
                await self._queue.notice(unit, first.conversation_id,
                                         texts.render("not_delivered", reason=reason))
            elif first.lane != desk_lane(None):  # never loop on a failing General topic
                target = "the operator topic" if first.target == DESK else \
                    f"customer chat {first.target} {first.chat_id}"
                await self._queue.general(unit, DeskPost(texts.render(
                    "dead_letter", target=target,
                    attempts=attempts or first.attempts + 1, reason=reason,
                    topic_link=f"conversation #{first.conversation_id}"
                    if first.conversation_id else None)))

        await self._transactions.run(work)

"""Units of work: one transaction, and what it hands to the outbox once committed.

Every change to a conversation runs as a unit: intake's, an operator command's, a lifecycle
listener's, the sweep's. The unit collects what the transaction did — outbox targets given
new work, messages the relay will want, deliveries born claimed, fields of conversations to
write — and `Transactions.run` writes the fields in one statement per conversation before
COMMIT, then wakes the outbox. It replaces state shared through the service object (updates
of different chats run concurrently, each with its own unit).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from core.clock import Clock
from core.model import Conversation, ConversationStatus, Message
from core.ports import DuplicateError, Handover

logger = logging.getLogger(__name__)

T = TypeVar("T")
_CONVERSATION_FIELDS = frozenset(f.name for f in dataclasses.fields(Conversation))


class ConversationChange:
    """Fields of one conversation a unit sets, by named operation; written in one UPDATE."""

    def __init__(self) -> None:
        self._fields: dict[str, object] = {}

    def waits_since(self, at: datetime | None) -> None:
        """The customer waits for a human from `at` (None: nobody waits)."""
        self._fields["waiting_since"] = at

    def answered(self, at: datetime, *, first: bool, assignee: str | None) -> None:
        """A person answered: the wait ends; the first answer and the assignee are kept."""
        self._fields["waiting_since"] = None
        if first:
            self._fields["first_response_at"] = at
        if assignee is not None:
            self._fields["assignee_id"] = assignee

    def human_answer_at(self, at: datetime) -> None:
        self._fields["answered_at"] = at

    def reply_through(self, identity_id: int) -> None:
        """Answers go to this identity (the channel the customer last wrote from)."""
        self._fields["reply_identity_id"] = identity_id

    def acknowledged(self, at: datetime) -> None:
        self._fields["acked_at"] = at

    def wants_title(self, mark: str, due: datetime) -> None:
        """The topic's status mark should become `mark` (renamed from `due`, debounced)."""
        self._fields["title_want"] = mark
        self._fields["title_due_at"] = due

    def assign(self, operator_id: str) -> None:
        self._fields["assignee_id"] = operator_id

    def handed_over(self, at: datetime, topic_id: int | None) -> None:
        """The bot gave the conversation to people: it is open from `at` and the customer
        waits from then on, in their earlier topic when they have one (its card is there)."""
        self._fields.update(status=ConversationStatus.OPEN, opened_at=at, waiting_since=at)
        if topic_id is not None:
            self._fields.update(topic_id=topic_id, card_posted=True)

    def place(self, department: str | None, desk_chat: str | None) -> None:
        """The conversation belongs to `department`, its topic in group `desk_chat` (None:
        the operator group); set before it has a topic (or when it moves to a new one)."""
        self._fields.update(department=department, desk_chat=desk_chat)

    def moved(self, department: str, desk_chat: str | None) -> None:
        """/transfer: the conversation goes on in `department`, in a new topic of its group
        (made with the card by the next post); the wait and its clock are untouched."""
        self._fields.update(department=department, desk_chat=desk_chat, topic_id=None,
                            card_posted=False, title_mark=None)

    def close(self, at: datetime) -> None:
        self._fields.update(status=ConversationStatus.CLOSED, closed_at=at, waiting_since=None)

    @property
    def fields(self) -> Mapping[str, object]:
        return self._fields

    def applied_to(self, conversation: Conversation) -> Conversation:
        """The conversation as it will be once the unit commits."""
        known = {k: v for k, v in self._fields.items() if k in _CONVERSATION_FIELDS}
        return dataclasses.replace(conversation, **known)  # type: ignore[arg-type]


@dataclass
class Unit:
    """What one transaction did, for what must happen after it commits."""

    now: datetime
    retrying: bool = False  # an earlier attempt lost a race on a unique key
    touched: set[str] = field(default_factory=set)  # outbox targets given new work
    stored: list[Message] = field(default_factory=list)  # messages the relay will want
    born: list[Handover] = field(default_factory=list)  # deliveries born claimed
    changes: dict[int, ConversationChange] = field(default_factory=dict)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def change(self, conversation_id: int) -> ConversationChange:
        return self.changes.setdefault(conversation_id, ConversationChange())


class UnitStore(Protocol):
    """What running a unit needs from storage."""

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...
    async def change_conversation(self, conversation_id: int,
                                  fields: Mapping[str, object]) -> None: ...


class Dispatch(Protocol):
    """The outbox, as a committed unit sees it."""

    def birth_lease(self, target: str | None) -> datetime | None:
        """The lease of a delivery that may be born claimed for `target` now (None: not
        now: the outbox is stopping or its workers for it are busy)."""
        ...

    def remember(self, messages: list[Message]) -> None:
        """Keep committed messages at hand for their relay (no read back)."""
        ...

    def wake(self, targets: set[str] | None = None) -> None: ...

    def adopt(self, handover: Handover) -> None:
        """Run a delivery born claimed (its lane was empty)."""
        ...


class Transactions:
    """Runs units: one transaction each, retried when a concurrent writer won a unique key.

    A platform message stored before (a re-delivered update) fails on its unique origin
    link; the retry (`unit.retrying`) is where work looks for the duplicate, so the first
    attempt does not pay for the lookup."""

    def __init__(self, store: UnitStore, clock: Clock, dispatch: Dispatch | None = None
                 ) -> None:
        self._store = store
        self._clock = clock
        self.dispatch = dispatch

    def now(self) -> datetime:
        return self._clock.now()

    def birth_lease(self, target: str | None) -> datetime | None:
        return self.dispatch.birth_lease(target) if self.dispatch is not None else None

    async def run(self, work: Callable[[Unit], Awaitable[T]], attempts: int = 5) -> T:
        for attempt in range(attempts):
            unit = Unit(now=self._clock.now(), retrying=attempt > 0)
            try:
                async with self._store.transaction():
                    result = await work(unit)
                    for conversation_id, change in unit.changes.items():
                        if change.fields:
                            await self._store.change_conversation(conversation_id,
                                                                  change.fields)
            except DuplicateError:
                if attempt == attempts - 1:
                    raise
                logger.debug("a unit lost a race on a unique key; retrying")
                continue
            self.committed(unit)
            return result
        raise AssertionError("unreachable")

    def committed(self, unit: Unit) -> None:
        """After COMMIT: the relay keeps the messages at hand, the outbox is woken for new
        work, and rows born claimed are handed to it."""
        dispatch = self.dispatch
        if dispatch is not None:
            if unit.stored:
                dispatch.remember(unit.stored)
            if unit.touched:
                dispatch.wake(unit.touched)
            for handover in unit.born:
                dispatch.adopt(handover)
        for callback in unit.after_commit:
            callback()

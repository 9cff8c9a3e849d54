"""Service levels on the conversation lifecycle: a wait that starts starts the clock (and
acknowledges the customer), a person's answer stops it, a close settles everything.

Each hook is at most one indexed statement of its own, and only when the clock changes
state; the conversation's own fields (the title mark, the acknowledgement time) ride in the
unit's single UPDATE.
"""

from __future__ import annotations

from core.delivery.queue import Queue
from core.lifecycle import Closure, LifecycleListener
from core.model import Conversation, Customer, Identity
from core.sla.ack import acknowledgement
from core.sla.policy import RESPONSE_KINDS, SlaPolicy, TargetKind
from core.sla.ports import SlaStore
from core.sla.titles import MARKS
from core.unit import Unit

_ALL_KINDS = tuple(str(k) for k in TargetKind)


class SlaClock(LifecycleListener):
    def __init__(self, store: SlaStore, policy: SlaPolicy, queue: Queue) -> None:
        self._store = store
        self.policy = policy
        self._queue = queue

    def reconfigure(self, policy: SlaPolicy) -> None:
        """A config reload: the next deadline, acknowledgement and reminder use `policy`
        (one reference swapped; clocks already running keep their due times)."""
        self.policy = policy

    async def customer_waits(self, unit: Unit, conversation: Conversation,
                             customer: Customer, identity: Identity, *, created: bool
                             ) -> None:
        await self._start_deadlines(unit, conversation, created)
        self._mark(unit, conversation, "waiting")
        ack = self.acknowledgement(conversation, customer.language, unit)
        if ack is not None:
            unit.change(conversation.id).acknowledged(unit.now)
            await self._queue.text_to_customer(unit, identity.channel, identity.chat_id, ack)

    async def _start_deadlines(self, unit: Unit, conversation: Conversation, created: bool
                               ) -> None:
        if created:
            kinds: tuple[TargetKind, ...] = (TargetKind.FIRST_RESPONSE, TargetKind.RESOLUTION)
        elif conversation.first_response_at is not None:
            kinds = (TargetKind.NEXT_RESPONSE,)
        else:
            return  # the first-response clock is already running
        deadlines = self.policy.deadlines(conversation.channel, kinds, unit.now,
                                          conversation.department)
        if deadlines:
            await self._store.start_deadlines(conversation.id, conversation.channel, deadlines)

    def acknowledgement(self, conversation: Conversation, language: str | None, unit: Unit
                        ) -> str | None:
        """The text to send the customer now, or None (already told today, or mid-chat)."""
        now = unit.now
        channel, department = conversation.channel, conversation.department
        if not self.policy.should_acknowledge(conversation.acked_at, conversation.answered_at,
                                              now, channel, department):
            return None
        targets = self.policy.channel(channel, department).targets
        answered = conversation.first_response_at is not None
        target = targets.next_response if answered else targets.first_response
        return acknowledgement(self.policy, channel, language, now, target, department)

    async def human_answered(self, unit: Unit, conversation: Conversation,
                             operator_id: str) -> None:
        if conversation.waiting_since is None:
            return  # answered before: no clock runs
        await self._store.stop_deadlines(conversation.id, [str(k) for k in RESPONSE_KINDS],
                                         unit.now, operator_id)
        self._mark(unit, conversation, "answered")

    async def closed(self, unit: Unit, conversation: Conversation, closure: Closure) -> None:
        await self._store.stop_deadlines(conversation.id, _ALL_KINDS, unit.now, closure.by_id)
        await self._store.forget_title(conversation.id)

    def _mark(self, unit: Unit, conversation: Conversation, state: str) -> None:
        """Ask for the topic's status mark to become `state` (debounced)."""
        debounce = self.policy.title_debounce
        if debounce is not None:
            unit.change(conversation.id).wants_title(MARKS[state], unit.now + debounce)

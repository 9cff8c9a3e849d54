"""The SLA clock's hooks on the intake path: a customer message starts it, a human operator's
answer stops it, closing settles everything. Called inside intake's transaction; each hook
is at most one indexed statement, and only when the clock actually changes state."""

from __future__ import annotations

from datetime import datetime

from core.model import Conversation
from core.ports import SlaStorePort
from core.sla.ack import acknowledgement
from core.sla.policy import RESPONSE_KINDS, SlaPolicy, TargetKind
from core.sla.titles import title_fields

_ALL_KINDS = tuple(str(k) for k in TargetKind)


class SlaClock:
    def __init__(self, store: SlaStorePort, policy: SlaPolicy) -> None:
        self._store = store
        self.policy = policy

    async def customer_waits(self, conversation: Conversation, created: bool, now: datetime
                             ) -> None:
        """The customer now waits for a human (their message found nobody waiting on them)."""
        if created:
            kinds: tuple[TargetKind, ...] = (TargetKind.FIRST_RESPONSE, TargetKind.RESOLUTION)
        elif conversation.first_response_at is not None:
            kinds = (TargetKind.NEXT_RESPONSE,)
        else:
            return  # the first-response clock is already running
        deadlines = self.policy.deadlines(conversation.channel, kinds, now)
        if deadlines:
            await self._store.start_deadlines(conversation.id, conversation.channel, deadlines)

    def acknowledgement(self, conversation: Conversation, language: str | None, now: datetime
                        ) -> str | None:
        """The text to send the customer now, or None (already told today, or mid-chat)."""
        if not self.policy.should_acknowledge(conversation.acked_at, conversation.answered_at,
                                              now, conversation.channel):
            return None
        targets = self.policy.channel(conversation.channel).targets
        answered = conversation.first_response_at is not None
        target = targets.next_response if answered else targets.first_response
        return acknowledgement(self.policy, conversation.channel, language, now, target)

    def title(self, state: str, now: datetime) -> dict[str, object]:
        """Conversation fields asking for the topic's status mark to become `state`."""
        return title_fields(state, now, self.policy.title_debounce)

    async def human_answered(self, conversation_id: int, operator_id: str, now: datetime
                             ) -> None:
        await self._store.stop_deadlines(conversation_id, [str(k) for k in RESPONSE_KINDS],
                                         now, operator_id)

    async def closed(self, conversation_id: int, operator_id: str, now: datetime) -> None:
        await self._store.stop_deadlines(conversation_id, _ALL_KINDS, now, operator_id)
        await self._store.forget_title(conversation_id)

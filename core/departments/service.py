"""Routing new customers to departments: a lifecycle listener and the customers' presses.

With `routing.ask` a new customer's first message is held (the conversation starts in status
`bot`: no topic yet) and they are asked to choose with buttons; the press, or
`routing.ask_wait` without one (the default department), hands the conversation over in the
chosen department's group with the held messages. A conversation that gets a topic any other
way (an FAQ hand-over, `ask: false`) is placed by `placing`: the department an FAQ entry
named, else the default.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from core import presses
from core.delivery.queue import Queue
from core.departments import texts
from core.departments.model import Department, Departments
from core.departments.ports import DepartmentStore
from core.lifecycle import BotTurn, LifecycleListener
from core.model import (
    Choice,
    Content,
    Conversation,
    ConversationStatus,
    Customer,
    Identity,
    InboundPress,
    Message,
)
from core.ports import Store
from core.unit import Transactions, Unit

logger = logging.getLogger(__name__)

PREFIX = "dep"


class HandOver(Protocol):
    """Intake's hand-over (bots/ hands it in: capabilities never import intake)."""

    async def __call__(self, unit: Unit, conversation: Conversation, context_html: str, *,
                       held: Sequence[Message] = ()) -> Conversation: ...


class DepartmentRouter(LifecycleListener):
    def __init__(self, departments: Departments, store: DepartmentStore, shared: Store,
                 queue: Queue, transactions: Transactions, *, asks: bool) -> None:
        self.departments = departments
        self._store = store
        self._shared = shared
        self._queue = queue
        self._transactions = transactions
        # Asking is off while another bot (the FAQ) takes new conversations first.
        self.takes_conversations = asks
        self._hand_over: HandOver | None = None

    def connect(self, hand_over: HandOver) -> None:
        self._hand_over = hand_over

    # ---- the lifecycle -------------------------------------------------------------------

    async def claims(self, unit: Unit, customer: Customer, identity: Identity,
                     content: Content) -> bool:
        # A returning customer goes on in their topic, with the team they talked to.
        return await self._shared.last_topic(customer.id) is None

    async def bot_message(self, unit: Unit, conversation: Conversation, customer: Customer,
                          identity: Identity, message: Message) -> BotTurn | None:
        held = await self._store.held(conversation.id)
        if held is None:
            await self._store.asked(conversation.id, unit.now, [message.id])
            await self._ask(unit, conversation, customer, identity)
        else:
            await self._store.hold(conversation.id, [*held, message.id])
        return BotTurn(hand_over=False)

    async def placing(self, unit: Unit, conversation: Conversation) -> None:
        department = self.departments.get(conversation.department) or self.departments.default
        unit.change(conversation.id).place(department.id, department.desk_chat)

    async def _ask(self, unit: Unit, conversation: Conversation, customer: Customer,
                   identity: Identity) -> None:
        language = customer.language
        buttons = [[Choice(d.name(language), presses.payload(PREFIX, conversation.id, d.id))]
                   for d in self.departments.all]
        await self._queue.text_to_customer(
            unit, identity.channel, identity.chat_id,
            texts.customer_text(texts.QUESTION, language), buttons)

    # ---- the customer's choice, or the default ---------------------------------------------

    async def press(self, inbound: InboundPress) -> str:
        """`dep:<conversation>:<department>`. A press repeated, late, of another customer's
        conversation or of a department no longer configured changes nothing."""
        parts = inbound.payload.split(":")
        department = self.departments.get(parts[2]) if len(parts) == 3 else None
        if department is None or not parts[1].isdigit():
            logger.info("departments: a press with an odd payload %r", inbound.payload)
            return ""
        return await self._transactions.run(
            lambda unit: self._pressed(unit, inbound, int(parts[1]), department))

    async def _pressed(self, unit: Unit, inbound: InboundPress, conversation_id: int,
                       department: Department) -> str:
        identity = await self._shared.find_identity(inbound.channel, inbound.user_id)
        try:
            conversation = await self._shared.get_conversation(conversation_id)
        except LookupError:
            return ""
        if identity is None or identity.customer_id != conversation.customer_id:
            logger.info("departments: %s %s pressed a button of conversation %s (not theirs)",
                        inbound.channel, inbound.user_id, conversation_id)
            return ""
        customer = await self._shared.get_customer(conversation.customer_id)
        if not await self._route(unit, conversation, department, "chosen"):
            return texts.customer_text(texts.PRESS_LATE, customer.language)
        await self._queue.text_to_customer(
            unit, identity.channel, identity.chat_id,
            texts.customer_text(texts.ROUTED, customer.language,
                                name=department.name(customer.language)))
        return department.name(customer.language)

    async def route_unanswered(self) -> int:
        """Customers who did not choose within `routing.ask_wait` go to the default
        department; the number handed over."""

        async def work(unit: Unit) -> int:
            due = await self._store.unanswered(unit.now - self.departments.routing.ask_wait)
            routed = 0
            for conversation_id in due:
                conversation = await self._shared.get_conversation(conversation_id)
                routed += await self._route(unit, conversation, self.departments.default,
                                            "default")
            return routed

        return await self._transactions.run(work)

    async def _route(self, unit: Unit, conversation: Conversation, department: Department,
                     why: str) -> bool:
        """Hand the held conversation over in `department`'s group (False: done before)."""
        # The customer's messages take turns with this (see Store.lock_conversation).
        conversation = await self._shared.lock_conversation(conversation.id)
        if conversation.status is not ConversationStatus.BOT:
            return False
        held = await self._store.answered(conversation.id)
        if held is None:
            return False
        assert self._hand_over is not None, "connect() the hand-over first"
        unit.change(conversation.id).place(department.id, department.desk_chat)
        messages = [await self._shared.get_message(i) for i in held]
        await self._hand_over(unit, conversation, texts.context_html(department.name(), why),
                              held=messages)
        return True

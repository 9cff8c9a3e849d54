"""The conversation lifecycle: what happens to a conversation, told to every capability.

Intake and the conversation operations publish events; capabilities (service levels, and
the ones to come: self-service, the survey, routing, reports) listen. A listener overrides
the hooks it cares about. Hooks run inside the unit of work that made the change, so what a
listener writes commits or rolls back with it: write through your own store, ask the unit
to change the conversation (`unit.change(id)`, merged into one UPDATE), queue posts through
the outbox's `Queue`. Work that may wait for the commit goes in `unit.after_commit`.

Hooks must be quick (they are on intake's path) and must not call other capabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.model import Content, Conversation, Customer, Identity, Message
from core.unit import Unit


class CloseReason(StrEnum):
    OPERATOR = "operator"  # /close or the ✅ Close button
    LINKED = "linked"  # /link joined the customer with another, whose conversation goes on
    SELF_SERVED = "self_served"  # the customer said the bot's answer helped: nobody else saw it
    BANNED = "banned"  # /ban: the customer's later messages are kept off the desk


@dataclass(frozen=True, slots=True)
class BotTurn:
    """What the bot did with a customer message of a conversation it holds: answered it
    (`hand_over` False), or gives the conversation to people, with `context_html` (the bot
    part of the conversation, for the topic) posted before the message itself."""

    hand_over: bool
    context_html: str = ""


@dataclass(frozen=True, slots=True)
class Closure:
    """Who closed a conversation, and why."""

    by_id: str | None
    by_name: str
    reason: CloseReason


class LifecycleListener:
    """A capability's hooks on the conversation lifecycle; each does nothing by default."""

    # Whether the listener needs `customer_wrote` for every customer message. The store's
    # one-statement intake path (PostgreSQL) tells nobody, so it is off while one does.
    every_message: bool = False
    # Whether the listener may take conversations for a bot (`claims`, `bot_message`);
    # intake asks nobody while none does.
    takes_conversations: bool = False
    # Whether the listener may keep a message of a customer with no open conversation
    # (`absorbs`); intake asks nobody while none does.
    absorbs_messages: bool = False
    # Whether the listener counts every customer message before intake (`over_limit`).
    watches_senders: bool = False

    def over_limit(self, channel: str, user_id: str, now: datetime) -> bool:
        """Counted before intake, from memory (no I/O: it runs for every message, on the
        fast path too): True keeps the message off the desk; it is stored and handed to
        `held` instead of being relayed."""
        return False

    async def held(self, unit: Unit, conversation: Conversation,
                   messages: Sequence[Message]) -> None:
        """Stored customer messages `over_limit` kept off the desk, in the order they came
        (the listener posts them later, e.g. combined with others)."""

    async def absorbs(self, unit: Unit, customer: Customer, identity: Identity,
                      content: Content) -> Conversation | None:
        """A customer with no open conversation wrote: the closed conversation the message
        belongs to (a survey's comment, a banned customer's words), where intake stores it
        without relaying it or starting a conversation; None: it starts one as usual."""
        return None

    async def claims(self, unit: Unit, customer: Customer, identity: Identity,
                     content: Content) -> bool:
        """A conversation is about to start with this customer message: True takes it for
        the bot. It then starts in status `bot`: no topic, no clock, and its customer
        messages come to `bot_message` instead of the desk until it is handed over."""
        return False

    async def bot_message(self, unit: Unit, conversation: Conversation, customer: Customer,
                          identity: Identity, message: Message) -> BotTurn | None:
        """A customer message (stored) of a conversation in status `bot`: what the bot did
        with it (None: not this listener's bot)."""
        return None

    async def handed_over(self, unit: Unit, conversation: Conversation) -> None:
        """A conversation the bot held is open for people from now on (told before
        `customer_waits(created=True)`, which starts the wait)."""

    async def placing(self, unit: Unit, conversation: Conversation) -> None:
        """A conversation is about to get a new topic (it starts, or a bot hands it over):
        a listener may place it in a department (`unit.change(id).place(...)`), which
        decides the group its topic is made in."""

    async def started(self, unit: Unit, conversation: Conversation) -> None:
        """A new conversation (the customer's first, or their first after a close)."""

    async def customer_waits(self, unit: Unit, conversation: Conversation,
                             customer: Customer, identity: Identity, *, created: bool
                             ) -> None:
        """A customer message found nobody waiting on them: from now on they wait for a
        human (`created`: the conversation started with this message)."""

    async def customer_wrote(self, unit: Unit, conversation: Conversation,
                             message: Message) -> None:
        """A customer message was stored (only while a listener has `every_message`)."""

    async def human_answered(self, unit: Unit, conversation: Conversation,
                             operator_id: str) -> None:
        """A person answered the customer (in the topic, or on the customer's channel).
        Notes and bot posts never come here."""

    async def closed(self, unit: Unit, conversation: Conversation, closure: Closure) -> None:
        """The conversation was closed (every path that closes one comes here)."""

    async def reopened(self, unit: Unit, conversation: Conversation, by_name: str) -> None:
        """An operator reopened a closed conversation."""

    async def linked(self, unit: Unit, conversation: Conversation, merged_customer_id: int
                     ) -> None:
        """Customer `merged_customer_id` was joined into this conversation's customer (the
        same person on another channel); this conversation goes on for both."""


class Lifecycle:
    """The listeners, told in the order they were added."""

    def __init__(self, listeners: Sequence[LifecycleListener] = ()) -> None:
        self._listeners = list(listeners)

    def add(self, listener: LifecycleListener) -> None:
        self._listeners.append(listener)

    @property
    def every_message(self) -> bool:
        return any(listener.every_message for listener in self._listeners)

    @property
    def takes_conversations(self) -> bool:
        return any(listener.takes_conversations for listener in self._listeners)

    @property
    def watches_senders(self) -> bool:
        return any(listener.watches_senders for listener in self._listeners)

    def over_limit(self, channel: str, user_id: str, now: datetime) -> bool:
        over = False
        for listener in self._listeners:
            if listener.watches_senders:
                over = listener.over_limit(channel, user_id, now) or over
        return over

    async def held(self, unit: Unit, conversation: Conversation,
                   messages: Sequence[Message]) -> None:
        for listener in self._listeners:
            if listener.watches_senders:
                await listener.held(unit, conversation, messages)

    @property
    def absorbs_messages(self) -> bool:
        return any(listener.absorbs_messages for listener in self._listeners)

    async def absorbs(self, unit: Unit, customer: Customer, identity: Identity,
                      content: Content) -> Conversation | None:
        for listener in self._listeners:
            if listener.absorbs_messages:
                kept = await listener.absorbs(unit, customer, identity, content)
                if kept is not None:
                    return kept
        return None

    async def claims(self, unit: Unit, customer: Customer, identity: Identity,
                     content: Content) -> bool:
        for listener in self._listeners:
            if listener.takes_conversations and await listener.claims(unit, customer,
                                                                      identity, content):
                return True
        return False

    async def bot_message(self, unit: Unit, conversation: Conversation, customer: Customer,
                          identity: Identity, message: Message) -> BotTurn:
        """The holding bot's turn; a conversation no listener holds any more (its bot was
        switched off since) goes to people."""
        for listener in self._listeners:
            if listener.takes_conversations:
                turn = await listener.bot_message(unit, conversation, customer, identity,
                                                  message)
                if turn is not None:
                    return turn
        return BotTurn(hand_over=True)

    async def handed_over(self, unit: Unit, conversation: Conversation) -> None:
        for listener in self._listeners:
            await listener.handed_over(unit, conversation)

    async def placing(self, unit: Unit, conversation: Conversation) -> None:
        for listener in self._listeners:
            await listener.placing(unit, conversation)

    async def started(self, unit: Unit, conversation: Conversation) -> None:
        for listener in self._listeners:
            await listener.started(unit, conversation)

    async def customer_waits(self, unit: Unit, conversation: Conversation, customer: Customer,
                             identity: Identity, *, created: bool) -> None:
        for listener in self._listeners:
            await listener.customer_waits(unit, conversation, customer, identity,
                                          created=created)

    async def customer_wrote(self, unit: Unit, conversation: Conversation,
                             message: Message) -> None:
        for listener in self._listeners:
            if listener.every_message:
                await listener.customer_wrote(unit, conversation, message)

    async def human_answered(self, unit: Unit, conversation: Conversation,
                             operator_id: str) -> None:
        for listener in self._listeners:
            await listener.human_answered(unit, conversation, operator_id)

    async def closed(self, unit: Unit, conversation: Conversation, closure: Closure) -> None:
        for listener in self._listeners:
            await listener.closed(unit, conversation, closure)

    async def reopened(self, unit: Unit, conversation: Conversation, by_name: str) -> None:
        for listener in self._listeners:
            await listener.reopened(unit, conversation, by_name)

    async def linked(self, unit: Unit, conversation: Conversation, merged_customer_id: int
                     ) -> None:
        for listener in self._listeners:
            await listener.linked(unit, conversation, merged_customer_id)

"""Intake: platform updates → canonical messages and outbox rows, in one transaction each.

An adapter may acknowledge an update to its platform only after these methods return: then the
message and every delivery it needs are committed, and a re-delivered update is a no-op
(deduplicated on the MessageLink key).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from core import texts
from core.clock import Clock
from core.conversations.linking import Linking
from core.delivery.notices import enqueue_notice, enqueue_reopen_topic
from core.intake.updates import Updates
from core.model import (  # noqa: F401 - IntakeResult and Outcome are intake's API
    DESK,
    Action,
    Content,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Identity,
    InboundChannelAnswer,
    InboundCustomerMessage,
    InboundEdit,
    InboundOperatorMessage,
    IntakeResult,
    Message,
    MessageKind,
    Outcome,
    SourceRef,
    channel_lane,
    desk_lane,
)
from core.ports import DuplicateError, Handover, StorePort
from core.sla.clock import SlaClock

logger = logging.getLogger(__name__)

T = TypeVar("T")
_CONVERSATION_FIELDS = frozenset(f.name for f in dataclasses.fields(Conversation))

# The running intake transaction's state (per task: chats are processed concurrently).
_touched: ContextVar[set[str]] = ContextVar("intake_touched")  # targets given new work
_retrying: ContextVar[bool] = ContextVar("intake_retrying", default=False)
_stored: ContextVar[list[Message]] = ContextVar("intake_stored")  # messages to relay
_born: ContextVar[list[Handover]] = ContextVar("intake_born")  # deliveries born claimed


class Handoff(Protocol):
    """The outbox, as intake sees it when the store can give deliveries born claimed."""

    def birth_lease(self, target: str | None) -> datetime | None:
        """The lease of a delivery born claimed for `target` (None: whichever the store
        picks); None when none may be born claimed now (the outbox is stopping, or has no
        free worker for it)."""
        ...

    def adopt(self, fast: Handover) -> None:
        """Run a delivery born claimed (its lane was empty): no claim, no read."""
        ...


class IntakeService(Linking, Updates):
    """Turns normalized inbound values into stored messages and queued deliveries."""

    def __init__(
        self,
        store: StorePort,
        clock: Clock,
        *,
        desk_platform: str,
        desk_chat_id: str,
        album_wait: timedelta,
        wake: Callable[[set[str]], None],
        stored: Callable[[list[Message]], None] | None = None,
        sla: SlaClock | None = None,
        handoff: Handoff | None = None,
    ) -> None:
        self._store = store
        self._handoff = handoff
        self._clock = clock
        self._desk_platform = desk_platform
        self._desk_chat = desk_chat_id
        self._album_wait = album_wait
        self._wake = wake
        self._stored = stored  # told about committed messages (the relay keeps them at hand)
        self._sla = sla

    async def _atomic(self, work: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
        """Run `work` in one transaction; retry when a concurrent writer won a unique key.

        A platform message stored before (a re-delivered update) fails on the unique origin
        link and is recognised as a duplicate on the retry (`_retrying`), so the first
        attempt does not pay for the lookup. Both are context variables: updates of
        different chats run concurrently, each in its own task."""
        for attempt in range(attempts):
            touched: set[str] = set()
            stored: list[Message] = []
            born: list[Handover] = []
            _touched.set(touched)
            _stored.set(stored)
            _born.set(born)
            _retrying.set(attempt > 0)
            try:
                async with self._store.transaction():
                    result = await work()
            except DuplicateError:
                if attempt == attempts - 1:
                    raise
                logger.debug("intake lost a race on a unique key; retrying")
                continue
            self._committed(stored, touched, born)
            return result
        raise AssertionError("unreachable")

    def _committed(self, stored: list[Message], touched: set[str], born: list[Handover]
                   ) -> None:
        """After COMMIT: the relay keeps the messages at hand, the outbox is woken for new
        work, and rows born claimed are handed to it."""
        if stored and self._stored is not None:
            self._stored(stored)
        if touched:
            self._wake(touched)
        if self._handoff is not None:
            for handover in born:
                self._handoff.adopt(handover)

    # ---- customer → desk -------------------------------------------------------------

    async def relay_customer_to_desk(self, inbound: InboundCustomerMessage) -> IntakeResult:
        if self._store.fast_intake:
            now = self._clock.now()
            done = await self._fast(lambda lease: self._store.fast_customer_message(
                inbound, now, self._desk_chat, lease))
            if done is not None:
                return done
        return await self._atomic(lambda: self._customer_message(inbound))

    async def _fast(
        self, call: Callable[[datetime | None], Awaitable[Handover | None]]
    ) -> IntakeResult | None:
        """The store's one-statement path for the common case (PostgreSQL): a customer
        already waiting writes again, an operator answers an answered conversation. None
        when it does not apply; then the general transaction below decides everything."""
        lease = self._handoff.birth_lease(None) if self._handoff is not None else None
        try:
            handover = await call(lease)
        except DuplicateError:  # the platform message's origin link exists: re-delivered
            return IntakeResult(Outcome.DUPLICATE)
        if handover is None:
            return None
        born = handover.claimed
        self._committed([handover.message], set() if born else {handover.delivery.target},
                        [handover] if born else [])
        message = handover.message
        return IntakeResult(Outcome.STORED, message.id, message.conversation_id)

    async def _customer_message(self, inbound: InboundCustomerMessage) -> IntakeResult:
        store, now = self._store, self._clock.now()
        if _retrying.get() and await store.find_link(
            inbound.channel, inbound.chat_id, inbound.message_id
        ):
            return IntakeResult(Outcome.DUPLICATE)
        identity, customer, new = await store.upsert_identity(
            inbound.channel, inbound.user_id, inbound.chat_id, inbound.profile, now
        )
        if not identity.reachable:
            # Writing to us means they can hear us again (Telegram unblock, VK allow).
            await store.set_reachable(identity.id, True)
        # A customer created just now has no conversation yet: nothing to look up.
        conversation = None if new else await store.open_conversation(customer.id)
        created = conversation is None
        if conversation is None:
            conversation = await self._start_conversation(
                customer.id, customer.display_name, inbound.channel, identity.id,
                first=new,
            )
        fields: dict[str, object] = {}
        if conversation.reply_identity_id != identity.id:
            fields["reply_identity_id"] = identity.id
        if conversation.waiting_since is None:
            fields["waiting_since"] = now
            if self._sla is not None:  # the SLA clock starts (once per wait, not per message)
                await self._sla.customer_waits(conversation, created, now)
                fields.update(self._sla.title("waiting", now))
                ack = self._sla.acknowledgement(conversation, customer.language, now)
                if ack is not None:
                    fields["acked_at"] = now
                    await self._enqueue(
                        lane=channel_lane(identity.channel, identity.chat_id),
                        target=identity.channel, chat_id=identity.chat_id,
                        action=Action.TEXT, now=now, body={"text": ack},
                    )
        if fields:
            await store.update_conversation(conversation.id, **fields)
        reply_to_id = await self._replied(inbound.channel, inbound.chat_id,
                                          inbound.reply_to_message_id)
        message = await store.add_message(
            conversation.id, MessageKind.CUSTOMER, inbound.user_id, inbound.profile.display_name,
            inbound.content,
            SourceRef(inbound.channel, inbound.chat_id, inbound.message_id),
            reply_to_id, now, reply_ref=None if reply_to_id else inbound.reply_to_message_id,
        )
        _stored.get().append(message)
        # A conversation started in this transaction has an empty lane, unless it reopens
        # the customer's topic (those rows come first): nobody else knows its id yet.
        fresh = created and conversation.topic_id is None
        await self._enqueue_relay(
            lane=desk_lane(conversation.id), target=DESK, chat_id=self._desk_chat,
            message=message, group=_group_key(inbound.channel, inbound.chat_id, inbound.content),
            conversation=conversation, changes=fields, lane_empty=fresh,
        )
        return IntakeResult(Outcome.STORED, message.id, conversation.id)

    async def _start_conversation(
        self, customer_id: int, name: str, channel: str, identity_id: int, *, first: bool
    ) -> Conversation:
        """A new conversation reuses the customer's topic, so their history stays in one place.
        `first`: the customer was created in this transaction (no earlier conversation)."""
        store, now = self._store, self._clock.now()
        previous = None if first else await store.latest_conversation(customer_id)
        topic_id = previous.topic_id if previous else None
        conversation = await store.create_conversation(
            customer_id, channel, identity_id, topic_id, now
        )
        if previous is not None and topic_id is not None:
            # The previous conversation's /close closed the topic.
            await enqueue_reopen_topic(self._store, now, self._desk_chat, conversation.id)
            await self._system_notice(
                conversation.id,
                texts.render("new_conversation", conversation_id=conversation.id, name=name,
                             previous=previous.id),
            )
        return conversation

    async def _enqueue_relay(
        self, *, lane: str, target: str, chat_id: str, message: Message, group: str | None,
        identity: Identity | None = None, conversation: Conversation | None = None,
        changes: dict[str, object] | None = None, lane_empty: bool = False,
    ) -> None:
        """`conversation` (desk side, with the `changes` this transaction makes to it) or
        `identity` (channel side): what the relay would read first, handed over with a row
        born claimed; `lane_empty`: no row can be ahead."""
        now = self._clock.now()
        if group is not None:
            # Albums arrive as separate updates with no count and no end marker: hold every
            # part until the album has been quiet for `album_wait`, then relay it as one group.
            not_before = now + self._album_wait
            await self._store.postpone_group(lane, group, not_before)
            await self._enqueue(
                lane=lane, target=target, chat_id=chat_id, action=Action.RELAY, now=now,
                message_id=message.id, conversation_id=message.conversation_id,
                group_key=group, not_before=not_before,
            )
            return
        lease = self._handoff.birth_lease(target) if self._handoff is not None else None
        delivery = await self._store.enqueue_relay(
            lane=lane, target=target, chat_id=chat_id, message_id=message.id,
            conversation_id=message.conversation_id, now=now, claim_until=lease,
            lane_empty=lane_empty,
        )
        if delivery.status is not DeliveryStatus.SENDING:
            _touched.get().add(target)
            return
        if conversation is not None and changes:  # as it will be once committed
            conversation = dataclasses.replace(conversation, **{  # type: ignore[arg-type]
                k: v for k, v in changes.items() if k in _CONVERSATION_FIELDS})
        _born.get().append(Handover(message, delivery, conversation, identity))  # after COMMIT

    async def _replied(self, platform: str, chat_id: str, ref: str | None) -> int | None:
        """The canonical message a platform message replied to, if it is linked yet."""
        if ref is None:
            return None
        link = await self._store.find_link(platform, chat_id, ref)
        return link.message_id if link else None

    async def _enqueue(self, **fields: Any) -> None:
        _touched.get().add(fields["target"])
        await self._store.enqueue(**fields)

    async def _system_notice(self, conversation_id: int, html: str) -> None:
        _touched.get().add(DESK)
        await enqueue_notice(self._store, self._clock.now(), self._desk_chat, conversation_id,
                             html)

    # ---- desk → customer -------------------------------------------------------------

    async def relay_operator_to_customer(self, inbound: InboundOperatorMessage) -> IntakeResult:
        if self._store.fast_intake:
            now = self._clock.now()
            done = await self._fast(lambda lease: self._store.fast_operator_message(
                inbound, now, self._sla is not None, lease))
            if done is not None:
                return done
        return await self._atomic(lambda: self._operator_message(inbound, MessageKind.OPERATOR))

    async def add_note(self, inbound: InboundOperatorMessage) -> IntakeResult:
        return await self._atomic(lambda: self._operator_message(inbound, MessageKind.NOTE))

    async def _operator_message(
        self, inbound: InboundOperatorMessage, kind: MessageKind
    ) -> IntakeResult:
        store, now = self._store, self._clock.now()
        if _retrying.get() and await store.find_link(
            inbound.platform, inbound.chat_id, inbound.message_id
        ):
            return IntakeResult(Outcome.DUPLICATE)
        conversation = await store.conversation_by_topic(inbound.thread_id)
        if conversation is None:
            return IntakeResult(Outcome.IGNORED)
        reply_to_id = await self._replied(inbound.platform, inbound.chat_id,
                                          inbound.reply_to_message_id)
        message = await store.add_message(
            conversation.id, kind, inbound.operator_id, inbound.operator_name, inbound.content,
            SourceRef(inbound.platform, inbound.chat_id, inbound.message_id), reply_to_id, now,
            reply_ref=None if reply_to_id else inbound.reply_to_message_id,
        )
        if kind is MessageKind.NOTE:
            return IntakeResult(Outcome.STORED, message.id, conversation.id)
        _stored.get().append(message)
        identity = await store.get_identity(conversation.reply_identity_id)
        if not identity.reachable:
            await self._system_notice(conversation.id, texts.render("not_delivered_blocked"))
        else:
            await self._enqueue_relay(
                lane=channel_lane(identity.channel, identity.chat_id), target=identity.channel,
                chat_id=identity.chat_id, message=message,
                group=_group_key(inbound.platform, inbound.chat_id, inbound.content),
                identity=identity,
            )
        await self._human_answered(conversation, inbound.operator_id, now, assign=True)
        return IntakeResult(Outcome.STORED, message.id, conversation.id)

    async def _human_answered(
        self, conversation: Conversation, operator_id: str, now: datetime, *, assign: bool
    ) -> None:
        """A person answered the customer (in the topic, or on the customer's channel): the
        wait ends and the SLA clock stops. Notes and bot posts never come here."""
        fields: dict[str, object] = {"waiting_since": None}
        if conversation.first_response_at is None:
            fields["first_response_at"] = now
        if assign and conversation.assignee_id is None:
            fields["assignee_id"] = operator_id
        if self._sla is not None:
            fields["answered_at"] = now
            if conversation.waiting_since is not None:
                await self._sla.human_answered(conversation.id, operator_id, now)
                fields.update(self._sla.title("answered", now))
        await self._store.update_conversation(conversation.id, **fields)

    async def relay_channel_answer_to_desk(self, inbound: InboundChannelAnswer) -> IntakeResult:
        """An answer an operator wrote on the customer's channel itself: shown in the topic,
        counted as the human answer, never sent to the customer again."""

        async def work() -> IntakeResult:
            store, now = self._store, self._clock.now()
            if _retrying.get() and await store.find_link(
                inbound.channel, inbound.chat_id, inbound.message_id
            ):
                return IntakeResult(Outcome.DUPLICATE)
            identity = await store.find_identity_by_chat(inbound.channel, inbound.chat_id)
            if identity is None:
                return IntakeResult(Outcome.IGNORED)  # not a customer of ours (yet)
            conversation = await store.open_conversation(identity.customer_id)
            if conversation is None:
                return IntakeResult(Outcome.IGNORED)  # an answer after the conversation closed
            reply_to_id = await self._replied(inbound.channel, inbound.chat_id,
                                              inbound.reply_to_message_id)
            message = await store.add_message(
                conversation.id, MessageKind.OPERATOR, inbound.operator_id,
                inbound.operator_name, inbound.content,
                SourceRef(inbound.channel, inbound.chat_id, inbound.message_id), reply_to_id, now,
            )
            _stored.get().append(message)
            await self._enqueue_relay(
                lane=desk_lane(conversation.id), target=DESK, chat_id=self._desk_chat,
                message=message, group=None,
            )
            # An admin in VK's inbox is a person but not one of our operators: no assignee.
            await self._human_answered(conversation, inbound.operator_id, now, assign=False)
            return IntakeResult(Outcome.STORED, message.id, conversation.id)

        return await self._atomic(work)

    async def close_conversation(
        self, topic_id: int, operator_id: str, operator_name: str
    ) -> Conversation | None:
        """Close the conversation of a topic; the customer's next message starts a new one."""

        async def work() -> Conversation | None:
            store, now = self._store, self._clock.now()
            conversation = await store.conversation_by_topic(topic_id)
            if conversation is None or conversation.status is ConversationStatus.CLOSED:
                return conversation
            await store.update_conversation(
                conversation.id, status=ConversationStatus.CLOSED, closed_at=now,
                waiting_since=None,
            )
            if self._sla is not None:
                await self._sla.closed(conversation.id, operator_id, now)
            await self._system_notice(
                conversation.id,
                texts.render("closed", conversation_id=conversation.id, operator=operator_name),
            )
            await self._enqueue(
                lane=desk_lane(conversation.id), target=DESK, chat_id=self._desk_chat,
                action=Action.CLOSE_TOPIC, now=now, conversation_id=conversation.id,
            )
            return conversation

        return await self._atomic(work)


def _group_key(platform: str, chat_id: str, content: Content) -> str | None:
    if content.media_group_id is None:
        return None
    return f"{platform}:{chat_id}:{content.media_group_id}"

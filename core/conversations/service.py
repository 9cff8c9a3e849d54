"""What operators do to a conversation as a whole: close it, reopen it, take it.

Every path that closes a conversation goes through `close`: it closes the conversation,
tells the lifecycle (the response clock stops, later the survey asks), posts the notice and
queues closing the topic, all in the caller's unit.
"""

from __future__ import annotations

from core import texts
from core.delivery.queue import Queue
from core.lifecycle import CloseReason, Closure, Lifecycle
from core.model import Conversation, ConversationStatus
from core.ports import Store
from core.unit import Transactions, Unit


class Conversations:
    def __init__(self, store: Store, transactions: Transactions, queue: Queue,
                 lifecycle: Lifecycle) -> None:
        self._store = store
        self._transactions = transactions
        self._queue = queue
        self._lifecycle = lifecycle

    async def close(self, unit: Unit, conversation: Conversation, closure: Closure,
                    notice_html: str) -> None:
        """Close `conversation` in `unit`: the one close operation. A conversation a bot
        held to the end (self-served, or closed by /link before a hand-over) never reached
        the desk: it has no topic to post the notice in or to close."""
        await self._store.close_conversation(conversation.id, unit.now, str(closure.reason))
        await self._lifecycle.closed(unit, conversation, closure)
        if conversation.status is not ConversationStatus.BOT:
            await self._queue.notice(unit, conversation.id, notice_html)
            await self._queue.close_topic(unit, conversation.id)

    async def close_topic(self, topic_id: int, operator_id: str, operator_name: str, *,
                          desk_chat: str | None = None) -> Conversation | None:
        """/close (or ✅ Close) in a topic; the customer's next message starts a new one."""

        async def work(unit: Unit) -> Conversation | None:
            conversation = await self._store.conversation_by_topic(topic_id, desk_chat)
            if conversation is None or conversation.status is ConversationStatus.CLOSED:
                return conversation
            await self.close(
                unit, conversation, Closure(operator_id, operator_name, CloseReason.OPERATOR),
                texts.render("closed", conversation_id=conversation.id, operator=operator_name))
            return conversation

        return await self._transactions.run(work)

    async def reopen(self, topic_id: int, operator_name: str, *,
                     desk_chat: str | None = None) -> bool:
        """/reopen: the topic's closed conversation is open again (unless the customer has
        started another meanwhile)."""

        async def work(unit: Unit) -> bool:
            conversation = await self._store.conversation_by_topic(topic_id, desk_chat)
            if conversation is None or conversation.status is not ConversationStatus.CLOSED:
                return False
            done = await self._store.reopen_conversation(conversation.id)
            if done:
                await self._queue.reopen_topic(unit, conversation.id)
                await self._lifecycle.reopened(unit, conversation, operator_name)
            await self._queue.notice(unit, conversation.id, texts.render(
                "reopened" if done else "cannot_reopen", operator=operator_name,
                conversation_id=conversation.id))
            return done

        return await self._transactions.run(work)

    async def take(self, topic_id: int, operator_id: str, operator_name: str, *,
                   desk_chat: str | None = None) -> Conversation | None:
        """/take: the operator is the conversation's assignee from now on."""

        async def work(unit: Unit) -> Conversation | None:
            conversation = await self._store.conversation_by_topic(topic_id, desk_chat)
            if conversation is None:
                return None
            unit.change(conversation.id).assign(operator_id)
            await self._queue.notice(unit, conversation.id, texts.render(
                "taken", operator=operator_name, conversation_id=conversation.id))
            return conversation

        return await self._transactions.run(work)

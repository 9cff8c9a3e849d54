"""Orphan topics: a topic the bot created whose createForumTopic answer never arrived.

When the connection drops after Telegram carried the call out, the outbox sees a network
error and its retry creates a second topic; the first would stay empty in the group for ever.
Telegram tells the bot about every topic it creates (a `forum_topic_created` service message
from the bot itself, with the topic's name and thread id), and the desk hands each one here:

- a topic a conversation has already stored is the normal case: nothing to do;
- a topic of a customer (the `#N` its title ends with) whose conversation has no topic yet is
  the lost answer, and the conversation adopts it; the retry then finds it and posts the card
  there instead of creating another;
- a topic of a customer who has another one is an orphan: its deletion is queued in the
  conversation's desk lane, so it waits for the group's flood budget like every post.

Who stores a topic first wins: adopting here and the outbox storing the topic it created both
go through `StorePort.claim_topic`, one conditional statement that stores a topic only where
none is. A retry that lost that race (it created a topic while this adopted the first) uses
the adopted one and posts nothing into its own, which becomes an orphan when its update comes.
So whatever the order of the retry and the updates, one topic stays and nothing was ever
posted into the others. Topics people create, and titles naming no customer we know, are
never touched.

Departments' groups (core/departments) are looked after the same way, each topic within
its own group (a topic id is unique only there): a lost answer's topic is adopted only by a
conversation of that group, and a topic made in a group the conversation has left since
(/transfer) is an orphan, deleted in its group.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from core import texts
from core.delivery.queue import Queue
from core.model import ConversationStatus
from core.ports import Store
from core.unit import Transactions, Unit

logger = logging.getLogger(__name__)


class TopicFate(StrEnum):
    KNOWN = "known"  # a conversation has it: the answer arrived (or it was adopted before)
    ADOPTED = "adopted"  # the lost answer's topic, now the conversation's
    ORPHAN = "orphan"  # the customer has another topic: queued for deletion
    FOREIGN = "foreign"  # not a title of ours, or a customer we don't know: left alone


class OrphanTopics:
    def __init__(self, store: Store, transactions: Transactions, queue: Queue) -> None:
        self._store = store
        self._transactions = transactions
        self._queue = queue

    async def topic_created(self, topic_id: int, title: str, desk_chat: str | None = None
                            ) -> TopicFate:
        """The bot created topic `topic_id` titled `title` (a `forum_topic_created` update
        sent by the bot itself; the caller checks who created it) in group `desk_chat`
        (as `Conversation.desk_chat`: None for the operator group)."""
        customer_id = texts.topic_customer(title)
        if customer_id is None:
            return TopicFate.FOREIGN
        # The common case (every topic the bot makes reports in): one read, no transaction.
        if await self._store.conversation_by_topic(topic_id, desk_chat) is not None:
            return TopicFate.KNOWN
        return await self._transactions.run(
            lambda unit: self._unknown_topic(unit, topic_id, customer_id, title, desk_chat))

    async def _unknown_topic(self, unit: Unit, topic_id: int, customer_id: int, title: str,
                             desk_chat: str | None) -> TopicFate:
        store = self._store
        # The customer's topic lives on their current conversation: the open one, or else
        # the latest (a new conversation takes its topic from there).
        conversation = await store.open_conversation(customer_id) \
            or await store.latest_conversation(customer_id)
        if conversation is None:
            logger.info("topic %s (%r) names no known customer; left alone", topic_id, title)
            return TopicFate.FOREIGN
        if conversation.status is ConversationStatus.BOT:
            # A bot holds the customer now: that conversation makes no topic, and the one
            # that made this closed within seconds. Rare enough to leave to people.
            logger.info("topic %s (%r): its customer is with the bot now; left alone",
                        topic_id, title)
            return TopicFate.FOREIGN
        if conversation.desk_chat == desk_chat \
                and await store.claim_topic(conversation.id, topic_id) == topic_id:
            # Its answer was lost, or is merely slower than this update: either way the
            # outbox now finds it stored (and stores the same id without harm).
            logger.info("topic %s adopted by conversation %s", topic_id, conversation.id)
            return TopicFate.ADOPTED
        # It has another topic, or it works in another group now: this one is nobody's.
        await self._queue.delete_orphan_topic(unit, conversation.id, topic_id, desk_chat)
        logger.warning("topic %s%s is an orphan of conversation %s; deleting it", topic_id,
                       f" (group {desk_chat})" if desk_chat else "", conversation.id)
        return TopicFate.ORPHAN

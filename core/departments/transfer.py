"""`/transfer <department> [note]`: a conversation moves to another department's group.

The old topic gets a pointer and is closed; the conversation goes on in a new topic of the
other group (the card first, then one context post: who moved it, the note, the history so
far); the customer is told in their language. The wait and its response clock are not
touched (a transfer is not an answer). The old copies keep their links, so an operator's
edit of an earlier answer still reaches the customer, and a customer's edit of an earlier
message is posted again in the new topic.
"""

from __future__ import annotations

from core import texts as desk_texts
from core.commands import Command, Commands, Invocation
from core.delivery.queue import Queue
from core.departments import texts
from core.departments.model import Department, Departments
from core.departments.ports import DepartmentStore, Said
from core.model import Conversation, ConversationStatus, DeskPost
from core.ports import Store
from core.unit import Transactions, Unit

HISTORY = 40  # messages in the context post at most
POST_LIMIT = 3500  # characters of history (one Telegram message is 4096)
ICONS = {"customer": "👤", "operator": "🧑‍💼", "note": "📝"}


class Transfers:
    def __init__(self, departments: Departments, store: DepartmentStore, shared: Store,
                 queue: Queue, transactions: Transactions) -> None:
        self._departments = departments
        self._store = store
        self._shared = shared
        self._queue = queue
        self._transactions = transactions

    async def transfer(self, i: Invocation) -> None:
        assert i.topic_id is not None
        wanted, _, note = i.args.strip().partition(" ")
        topic = i.topic_id

        async def work(unit: Unit) -> None:
            conversation = await self._shared.conversation_by_topic(topic, i.desk_chat)
            if conversation is None:
                return
            target = self._departments.get(wanted.lower())
            why = self._refusal(conversation, target, wanted)
            if why or target is None:
                await self._queue.notice(unit, conversation.id, desk_texts.render(
                    "_transfer_refused", wanted=wanted, why=why,
                    known=", ".join(d.id for d in self._departments.all)))
                return
            await self._move(unit, conversation, target, i.operator_name, note.strip())

        await self._transactions.run(work)

    def _refusal(self, conversation: Conversation, target: Department | None, wanted: str
                 ) -> str:
        if not wanted:
            return "say which department"
        if target is None:
            return "no such department"
        if conversation.status is ConversationStatus.CLOSED:
            return "the conversation is closed (/reopen it first)"
        current = self._departments.get(conversation.department) or self._departments.default
        if current.id == target.id:
            return "the conversation is in that department already"
        return ""

    async def _move(self, unit: Unit, conversation: Conversation, target: Department,
                    operator: str, note: str) -> None:
        source = self._departments.get(conversation.department) or self._departments.default
        old_topic, old_chat = conversation.topic_id, conversation.desk_chat
        if old_topic is not None:
            await self._queue.topic_post(unit, conversation.id, DeskPost(desk_texts.render(
                "_transfer_pointer", conversation_id=conversation.id, name=target.name(),
                operator=operator), old_topic), old_chat)
            await self._queue.close_topic(unit, conversation.id, topic_id=old_topic,
                                          desk_chat=old_chat)
        unit.change(conversation.id).moved(target.id, target.desk_chat)
        lines, cut = _history_lines(await self._store.history(conversation.id, HISTORY))
        await self._queue.notice(unit, conversation.id, desk_texts.render(
            "_transfer_context", source=source.name(), operator=operator, note=note,
            lines=lines, cut=cut))
        customer = await self._shared.get_customer(conversation.customer_id)
        identity = await self._shared.get_identity(conversation.reply_identity_id)
        await self._queue.text_to_customer(unit, identity.channel, identity.chat_id,
                                           texts.customer_text(
                                               texts.TRANSFERRED, customer.language,
                                               name=target.name(customer.language)))


def _history_lines(said: list[Said]) -> tuple[list[str], int]:
    """One line per message, newest kept when the post would be too long."""
    lines: list[str] = []
    size = 0
    for item in reversed(said):
        text = " ".join(item.text.split()) or f"[{item.content_type}]"
        line = f"{ICONS.get(item.kind, '•')} {item.author or '?'}: {text[:300]}"
        if size + len(line) > POST_LIMIT:
            break
        lines.append(line)
        size += len(line) + 1
    return list(reversed(lines)), len(said) - len(lines)


def register(commands: Commands, transfers: Transfers) -> None:
    commands.register(Command("transfer", "/transfer <department> [note]: move to another "
                              "department", transfers.transfer))

"""`/faq` in a topic lists the FAQ; `/faq <id>` answers the customer with that entry, in
their language, as the operator's own answer (it stops the response clock like any human
answer). The customer question it answered is remembered for `relaydesk faq suggest`."""

from __future__ import annotations

import dataclasses
import html

from core.commands import Command, Commands, Invocation
from core.delivery.queue import Queue
from core.model import Content, InboundOperatorMessage, MessageKind, Outcome
from core.ports import Store
from core.selfservice.matcher import Decision
from core.selfservice.ports import AnswerAsOperator, SelfServiceStore, Turn, TurnKind, cut
from core.selfservice.service import SelfService
from core.unit import Transactions, Unit

LIST_LIMIT = 3500  # characters of the list post (one Telegram message)


class FaqCommand:
    def __init__(self, service: SelfService, store: SelfServiceStore, shared: Store,
                 queue: Queue, transactions: Transactions, answer: AnswerAsOperator) -> None:
        self._service = service
        self._store = store
        self._shared = shared
        self._queue = queue
        self._transactions = transactions
        self._answer = answer

    async def run(self, i: Invocation) -> None:
        assert i.topic_id is not None
        faq = self._service.faq
        wanted = i.args.strip()
        entry = faq.get(wanted) or faq.get(wanted.lower())
        if entry is None or i.message is None:
            await self._notice(i.topic_id, i.desk_chat, self._listing(wanted))
            return
        conversation = await self._shared.conversation_by_topic(i.topic_id, i.desk_chat)
        if conversation is None:
            return
        language = await self._language(conversation.id, conversation.customer_id)
        _, text = entry.text(language, self._service.settings.default_language)
        # The command message itself stays in the topic; what the customer gets is the
        # answer, stored as this operator's message under a key of its own (an edit of
        # the command must not rewrite the customer's copy; a re-delivered update is
        # still recognised).
        inbound = dataclasses.replace(
            i.message, message_id=f"{i.message.message_id}:faq",
            content=Content(content_type="text", text=text.answer, copyable=False))
        result = await self._answer(inbound)
        if result.outcome is Outcome.STORED:
            question = await self._question(i.message, conversation.id)
            await self._transactions.run(lambda unit: self._store.add_turn(Turn(
                conversation.id, unit.now, TurnKind.OPERATOR, entry.id, None, language,
                question)))

    async def _language(self, conversation_id: int, customer_id: int) -> str | None:
        """The language the customer was answered in, else theirs, else detected."""
        for turn in reversed(await self._store.turns(conversation_id, 5)):
            if turn.language:
                return turn.language
        customer = await self._shared.get_customer(customer_id)
        latest = await self._store.last_customer_text(conversation_id)
        detected = self._service.matcher.match(latest).language if latest else None
        return self._service.language(customer.language, detected)

    async def _question(self, command: InboundOperatorMessage, conversation_id: int
                        ) -> str | None:
        """The customer message the answer was for: the one the command replied to, else
        their latest."""
        if command.reply_to_message_id is not None:
            link = await self._shared.find_link(command.platform, command.chat_id,
                                                command.reply_to_message_id)
            if link is not None:
                message = await self._shared.get_message(link.message_id)
                if message.kind is MessageKind.CUSTOMER and message.content.text:
                    return cut(message.content.text)
        latest = await self._store.last_customer_text(conversation_id)
        return cut(latest) if latest else None

    def _listing(self, wanted: str) -> str:
        """The entries (their ids and questions); for an unknown id, the closest first."""
        faq, matcher = self._service.faq, self._service.matcher
        if not faq:
            return "📚 The FAQ is empty: add entries under <code>faq:</code> in config.yaml."
        head = "📚 <b>FAQ</b>: <code>/faq id</code> sends the answer to the customer"
        ids = [e.id for e in faq.entries]
        if wanted:
            verdict = matcher.match(wanted)
            guess = verdict.entry_id or (verdict.runner_up if verdict.decision is
                                         Decision.UNSURE else None)
            head = f"⚠️ No FAQ entry <code>{html.escape(wanted[:64])}</code>." + (
                f" Did you mean <code>/faq {guess}</code>?" if guess else "") + "\n" + head
        lines = [head]
        for number, entry_id in enumerate(ids):
            entry = faq.entries[number]
            line = f"• <code>{entry_id}</code> — {html.escape(entry.text()[1].question)}"
            if sum(len(x) + 1 for x in lines) + len(line) > LIST_LIMIT:
                lines.append(f"…and {len(ids) - number} more")
                break
            lines.append(line)
        return "\n".join(lines)

    async def _notice(self, topic_id: int, desk_chat: str | None, html_text: str) -> None:
        async def work(unit: Unit) -> None:
            conversation = await self._shared.conversation_by_topic(topic_id, desk_chat)
            if conversation is not None:
                await self._queue.notice(unit, conversation.id, html_text)

        await self._transactions.run(work)


def register(commands: Commands, command: FaqCommand) -> None:
    commands.register(Command("faq", "/faq lists the FAQ; /faq id sends an answer",
                              command.run))

"""`/t` in a topic: `/t name` sends that canned reply to the customer in their language as
the operator's own answer (stored as theirs, relayed, it stops the response clock like any
human answer); `/t` alone lists the names with their first words. An unknown name, a
language the reply lacks, or a template that fails answers the operator in the topic and
sends nothing."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from core.canned.templates import CannedError, CannedReplies, Number, Person, Values, render
from core.commands import Command, Commands, Invocation
from core.delivery.queue import Queue
from core.model import Content, Conversation, InboundOperatorMessage, IntakeResult
from core.ports import Store
from core.unit import Transactions, Unit

LIST_LIMIT = 3500  # characters of the list post (one Telegram message)
# (channel, department, now) → when the conversation's desk opens (its department's hours).
NextOpening = Callable[[str, str | None, datetime], datetime]


class AnswerAsOperator(Protocol):
    """Intake's operator path (`OperatorIntake.relay_operator_to_customer`)."""

    async def __call__(self, inbound: InboundOperatorMessage) -> IntakeResult: ...


class CannedCommand:
    def __init__(self, replies: CannedReplies, shared: Store, queue: Queue,
                 transactions: Transactions, answer: AnswerAsOperator,
                 next_opening: NextOpening | None = None) -> None:
        self._replies = replies
        self._shared = shared
        self._queue = queue
        self._transactions = transactions
        self._answer = answer
        self._next_opening = next_opening

    def reconfigure(self, replies: CannedReplies, next_opening: NextOpening | None) -> None:
        """A config reload: the next /t sends the new replies."""
        self._replies, self._next_opening = replies, next_opening

    async def run(self, i: Invocation) -> None:
        assert i.topic_id is not None
        name = i.args.strip().split(" ", 1)[0] if i.args.strip() else ""
        # A topic id is only unique within its group (departments).
        conversation = await self._shared.conversation_by_topic(i.topic_id, i.desk_chat)
        if conversation is None:
            return
        texts = self._replies.get(name) if name else None
        if texts is None or i.message is None:
            await self._notice(conversation.id, self._listing(name))
            return
        customer = await self._shared.get_customer(conversation.customer_id)
        language = _base(customer.language) or next(iter(texts))
        source = texts.get(language)
        if source is None:
            await self._notice(conversation.id, (
                f"⚠️ <code>{html.escape(name)}</code> has no text in "
                f"<code>{html.escape(language)}</code> (it has {', '.join(texts)}): nothing "
                "was sent. Add it under <code>canned:</code> in config.yaml."))
            return
        try:
            text = render(source, self._values(conversation, customer.display_name,
                                               i.operator_name))
        except CannedError as exc:
            await self._notice(conversation.id, f"⚠️ <code>/t {html.escape(name)}</code> "
                               f"failed: {html.escape(str(exc))}. Nothing was sent.")
            return
        # Stored as this operator's message under a key of its own (an edit of the command
        # must not rewrite the customer's copy; a re-delivered update is still recognised).
        await self._answer(dataclasses.replace(
            i.message, message_id=f"{i.message.message_id}:t",
            content=Content(content_type="text", text=text, copyable=False)))

    def _values(self, conversation: Conversation, customer_name: str, operator_name: str
                ) -> Values:
        now = self._transactions.now()
        opening = self._next_opening(conversation.channel, conversation.department, now) \
            if self._next_opening else now
        return Values(Person(_first(customer_name)), Person(_first(operator_name)),
                      Number(conversation.id), opening.strftime("%H:%M %d.%m"))

    def _listing(self, wanted: str) -> str:
        names = self._replies.names()
        if not names:
            return "💬 No canned replies: add them under <code>canned:</code> in config.yaml."
        lines = ["💬 <b>Canned replies</b>: <code>/t name</code> sends one to the customer"]
        if wanted:
            lines.insert(0, f"⚠️ No canned reply <code>{html.escape(wanted[:64])}</code>.")
        for number, name in enumerate(names):
            line = f"• <code>{name}</code> — {html.escape(self._replies.preview(name))}"
            if sum(len(x) + 1 for x in lines) + len(line) > LIST_LIMIT:
                lines.append(f"…and {len(names) - number} more")
                break
            lines.append(line)
        return "\n".join(lines)

    async def _notice(self, conversation_id: int, html_text: str) -> None:
        async def work(unit: Unit) -> None:
            await self._queue.notice(unit, conversation_id, html_text)

        await self._transactions.run(work)


def _first(name: str) -> str:
    return name.split(maxsplit=1)[0] if name.strip() else name


def _base(language: str | None) -> str | None:
    return language.split("-")[0].lower() if language else None


def register(commands: Commands, command: CannedCommand) -> None:
    commands.register(Command("t", "/t lists canned replies; /t name sends one", command.run))

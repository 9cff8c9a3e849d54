"""What self-service needs: its store (the bot's turns), and the three operations of other
parts it is handed by the composition root (never imported: capabilities do not import each
other or intake)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.lifecycle import Closure
from core.model import Conversation, InboundOperatorMessage, IntakeResult
from core.unit import Unit


class TurnKind(StrEnum):
    ANSWERED = "answered"  # the bot answered with an entry
    SMALLTALK = "smalltalk"  # a greeting, thanks, "ok": a polite reply
    UNSURE = "unsure"  # no entry fits: handed over
    ASKED_PERSON = "asked_person"  # asked for a person in words: handed over
    MEDIA = "media"  # a photo, a file, a voice message: handed over (the bot can't read it)
    HELPED = "helped"  # pressed "That helped": closed, self-served
    PRESSED_PERSON = "pressed_person"  # pressed "Talk to a person": handed over
    OPERATOR = "operator"  # an operator answered the customer with /faq <id>


HANDED_OVER = (TurnKind.UNSURE, TurnKind.ASKED_PERSON, TurnKind.MEDIA,
               TurnKind.PRESSED_PERSON)


@dataclass(frozen=True, slots=True)
class Turn:
    conversation_id: int
    at: datetime
    kind: TurnKind
    entry_id: str | None = None
    score: float | None = None
    language: str | None = None
    text: str | None = None  # the customer's words (cut)


@dataclass(frozen=True, slots=True)
class SelfServiceStats:
    """A period's self-service, for the report."""

    bot_conversations: int  # conversations the bot took
    self_served: int  # closed by "That helped"
    handed_over: int
    answered: int  # conversations the bot answered at least once
    helped: int  # … of which the customer pressed "That helped"
    unanswered: list[tuple[str, int]]  # the top questions the bot had no answer to, counted


class SelfServiceStore(Protocol):
    async def add_turn(self, turn: Turn) -> None: ...
    async def turns(self, conversation_id: int, limit: int) -> list[Turn]:
        """The conversation's latest `limit` turns, oldest first."""
        ...
    async def last_customer_text(self, conversation_id: int) -> str | None:
        """The text of the conversation's latest customer message that has one."""
        ...
    async def stats(self, since: datetime, until: datetime, top: int) -> SelfServiceStats: ...
    async def operator_answers_by_language(self) -> list[tuple[str, str | None, str, int]]:
        """(entry id, language, customer question, times) of the /faq answers, by entry,
        the most frequent first."""
        ...


class HandOver(Protocol):
    """Intake's hand-over (`CustomerIntake.hand_over`): the conversation opens for people
    in `unit`, `context_html` is posted in its topic, and the wait starts."""

    async def __call__(self, unit: Unit, conversation: Conversation, context_html: str
                       ) -> Conversation: ...


class Close(Protocol):
    """The one close operation (`Conversations.close`)."""

    async def __call__(self, unit: Unit, conversation: Conversation, closure: Closure,
                       notice_html: str) -> None: ...


class AnswerAsOperator(Protocol):
    """Intake's operator path (`OperatorIntake.relay_operator_to_customer`): stored as the
    operator's message, relayed to the customer, counted as a human answer."""

    async def __call__(self, inbound: InboundOperatorMessage) -> IntakeResult: ...


def cut(text: str, limit: int = 300) -> str:
    """A customer's text for the record: one line, at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"



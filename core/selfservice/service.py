"""Self-service on the conversation lifecycle: the bot takes every new conversation, answers
what the FAQ covers (with "✅ That helped" and "🙋 Talk to a person" under the answer),
replies politely to small talk, and hands the rest to people with the context.

A conversation the bot holds is in status `bot`: no topic, nothing in the operator group,
no response clock. "That helped" closes it as self-served; a hand-over (no confident
answer, a request for a person in words or by the button, a file the bot can't read) opens
it for people through intake's hand-over, which makes (or reopens) the topic, posts the
context and starts the wait. From then on the bot is silent in that conversation.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from core import presses
from core.delivery.queue import Queue
from core.lifecycle import BotTurn, CloseReason, Closure, LifecycleListener
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
from core.selfservice.context import MAX_TURNS, context_html
from core.selfservice.faq import Faq
from core.selfservice.matcher import Decision, Matcher, Verdict
from core.selfservice.ports import Close, HandOver, SelfServiceStore, Turn, TurnKind, cut
from core.selfservice.texts import CustomerTexts
from core.unit import Transactions, Unit

logger = logging.getLogger(__name__)

PREFIX = "ss"  # button payloads: ss:<helped|person>:<conversation>:<language>
HELPED, PERSON = "helped", "person"


@dataclass(frozen=True, slots=True)
class SelfServiceSettings:
    bot: bool = True  # the bot answers customers first (False: /faq for operators only)
    default_language: str | None = None  # when neither the platform nor the text tells


class SelfService(LifecycleListener):
    takes_conversations = True

    def __init__(self, matcher: Matcher, texts: CustomerTexts, store: SelfServiceStore,
                 shared: Store, queue: Queue, transactions: Transactions,
                 settings: SelfServiceSettings) -> None:
        self.matcher = matcher
        self.faq: Faq = matcher.faq
        self.texts = texts
        self._store = store
        self._shared = shared
        self._queue = queue
        self._transactions = transactions
        self.settings = settings
        self._hand_over: HandOver | None = None
        self._close: Close | None = None

    def connect(self, hand_over: HandOver, close: Close) -> None:
        """Intake's hand-over and the close operation (built after the lifecycle)."""
        self._hand_over, self._close = hand_over, close

    def reconfigure(self, matcher: Matcher, texts: CustomerTexts,
                    settings: SelfServiceSettings) -> None:
        """A config reload: the next question is matched against the new FAQ (the
        references are swapped together, between awaits: no half-changed state)."""
        self.matcher, self.faq, self.texts, self.settings = matcher, matcher.faq, texts, settings

    @property
    def active(self) -> bool:
        return self.settings.bot and bool(self.faq)

    # ---- the lifecycle -------------------------------------------------------------------

    async def claims(self, unit: Unit, customer: Customer, identity: Identity,
                     content: Content) -> bool:
        return self.active

    async def bot_message(self, unit: Unit, conversation: Conversation, customer: Customer,
                          identity: Identity, message: Message) -> BotTurn | None:
        content = message.content
        if content.content_type not in ("text", "sticker") or (
                content.attachments and content.content_type != "sticker"):
            return await self._handing_over(unit, conversation, Turn(
                conversation.id, unit.now, TurnKind.MEDIA, text=cut(content.text) or None))
        if content.content_type == "sticker":
            verdict = self.matcher.match("🙂", customer.language)
        else:
            verdict = self.matcher.match(content.text, customer.language)
        language = self.language(customer.language, verdict.language)
        turn = Turn(conversation.id, unit.now, _kind(verdict), verdict.entry_id,
                    verdict.score, language, cut(content.text))
        if verdict.decision is Decision.ANSWER:
            await self._answer(unit, conversation, identity, turn)
            return BotTurn(hand_over=False)
        if verdict.decision is Decision.SMALLTALK:
            await self._store.add_turn(turn)
            key = str(verdict.smalltalk) if verdict.smalltalk else "ack"
            await self._say(unit, identity, self.texts.get(key, language))
            return BotTurn(hand_over=False)
        if verdict.decision is Decision.PERSON:
            await self._say(unit, identity, self.texts.get("handing_over", language))
        return await self._handing_over(unit, conversation, turn)

    # ---- presses ---------------------------------------------------------------------------

    async def press(self, inbound: InboundPress) -> str:
        """A customer pressed one of the buttons under an answer. A press repeated, late,
        after a hand-over, of another customer's, or of a closed conversation is answered
        and changes nothing."""
        parts = inbound.payload.split(":")
        if len(parts) < 3 or parts[1] not in (HELPED, PERSON) or not parts[2].isdigit():
            logger.info("self-service: a press with an odd payload %r", inbound.payload)
            return ""
        action, conversation_id = parts[1], int(parts[2])
        language = parts[3] if len(parts) > 3 and parts[3] else None
        return await self._transactions.run(
            lambda unit: self._pressed(unit, inbound, action, conversation_id, language))

    async def _pressed(self, unit: Unit, inbound: InboundPress, action: str,
                       conversation_id: int, language: str | None) -> str:
        shared = self._shared
        identity = await shared.find_identity(inbound.channel, inbound.user_id)
        try:
            conversation = await shared.get_conversation(conversation_id)
        except LookupError:
            return ""
        if identity is None or identity.customer_id != conversation.customer_id:
            logger.info("self-service: %s %s pressed a button of conversation %s (not "
                        "theirs)", inbound.channel, inbound.user_id, conversation_id)
            return ""
        if conversation.status is ConversationStatus.CLOSED:
            return self.texts.get("press_closed", language)
        if conversation.status is not ConversationStatus.BOT:
            return self.texts.get("press_with_person", language)
        if action == HELPED:
            await self._helped(unit, conversation, identity, language)
        else:
            await self._say(unit, identity, self.texts.get("handing_over", language))
            await self._handing_over(unit, conversation, Turn(
                conversation.id, unit.now, TurnKind.PRESSED_PERSON, language=language),
                open_now=True)
        return self.texts.get("press_done", language)

    async def _helped(self, unit: Unit, conversation: Conversation, identity: Identity,
                      language: str | None) -> None:
        assert self._close is not None, "connect() the close operation first"
        await self._store.add_turn(Turn(conversation.id, unit.now, TurnKind.HELPED,
                                        language=language))
        customer = await self._shared.get_customer(conversation.customer_id)
        await self._close(unit, conversation, Closure(
            None, customer.display_name, CloseReason.SELF_SERVED), "")
        await self._say(unit, identity, self.texts.get("helped", language))

    # ---- what the bot does -------------------------------------------------------------------

    async def _answer(self, unit: Unit, conversation: Conversation, identity: Identity,
                      turn: Turn) -> None:
        entry = self.faq.get(turn.entry_id or "")
        assert entry is not None
        language, text = entry.text(turn.language, self.settings.default_language)
        await self._store.add_turn(turn)
        buttons = [
            [Choice(self.texts.get("helped_button", language),
                    presses.payload(PREFIX, HELPED, conversation.id, language))],
            [Choice(self.texts.get("person_button", language),
                    presses.payload(PREFIX, PERSON, conversation.id, language))],
        ]
        await self._queue.text_to_customer(unit, identity.channel, identity.chat_id,
                                           html.escape(text.answer, quote=False), buttons)

    async def _handing_over(self, unit: Unit, conversation: Conversation, reason: Turn, *,
                            open_now: bool = False) -> BotTurn:
        """Record the reason and build the context post. A message's hand-over is made by
        intake (the message is relayed right after the post); a press's here."""
        earlier = await self._store.turns(conversation.id, MAX_TURNS)
        context = context_html(earlier, reason, self.faq)
        await self._store.add_turn(reason)
        self._place(unit, conversation, [*earlier, reason])
        if open_now:
            assert self._hand_over is not None, "connect() the hand-over first"
            await self._hand_over(unit, conversation, context or context_html(
                [reason], reason, self.faq))
        return BotTurn(hand_over=True, context_html=context)

    def _place(self, unit: Unit, conversation: Conversation, turns: list[Turn]) -> None:
        """The department the latest entry the customer saw names goes with the hand-over
        (the departments capability places the topic in its group)."""
        for turn in reversed(turns):
            entry = self.faq.get(turn.entry_id or "")
            if entry is not None and entry.department:
                unit.change(conversation.id).place(entry.department, conversation.desk_chat)
                return

    async def _say(self, unit: Unit, identity: Identity, text: str) -> None:
        await self._queue.text_to_customer(unit, identity.channel, identity.chat_id,
                                           html.escape(text, quote=False))

    def language(self, customer: str | None, detected: str | None) -> str | None:
        """The customer's language (Telegram's language_code) when known, else the one
        their text is written in, else the default."""
        return _base(customer) or detected or self.settings.default_language


def _base(language: str | None) -> str | None:
    """`pt-br` → `pt`: FAQ texts are keyed by the language itself."""
    return language.split("-")[0].lower() if language else None


def _kind(verdict: Verdict) -> TurnKind:
    return {Decision.ANSWER: TurnKind.ANSWERED, Decision.SMALLTALK: TurnKind.SMALLTALK,
            Decision.PERSON: TurnKind.ASKED_PERSON}.get(verdict.decision, TurnKind.UNSURE)

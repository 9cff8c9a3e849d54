"""The survey on the conversation lifecycle. When an operator closes a conversation
(`/close`, ✅ Close) the customer gets "How did we do?" with buttons 1 to 5 in their
language; a rating of 1–3 asks "What could we do better?", and the customer's next text
within `comment_wait` is kept as the comment (stored in the closed conversation, not
opened as a new one). Ratings and comments are posted in the topic, which stays closed.

No survey for a conversation closed any other way (self-served, linked, banned), closed
unanswered (spam, a duplicate), of a customer who can't be reached or is banned, nor twice
for one conversation. A press after
`expires`, a second press, or another customer's press changes nothing.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import timedelta

from core import presses
from core.delivery.queue import Queue
from core.feedback.ports import Silenced, Survey, SurveyStore
from core.feedback.texts import SurveyTexts
from core.lifecycle import CloseReason, Closure, LifecycleListener
from core.model import (
    Choice,
    Content,
    Conversation,
    ConversationStatus,
    Customer,
    Identity,
    InboundPress,
)
from core.ports import Store
from core.unit import Transactions, Unit

logger = logging.getLogger(__name__)

PREFIX = "cs"  # button payloads: cs:<conversation>:<rating>
RATINGS = range(1, 6)
LOW = 3  # a rating up to this asks for a comment
COMMENT_LIMIT = 1000  # characters of a comment kept and posted


@dataclass(frozen=True, slots=True)
class CsatSettings:
    enabled: bool = True
    expires: timedelta = timedelta(hours=24)  # the buttons work this long
    comment_wait: timedelta = timedelta(minutes=10)  # a low rating waits this for a comment


class Csat(LifecycleListener):
    def __init__(self, store: SurveyStore, shared: Store, queue: Queue,
                 transactions: Transactions, texts: SurveyTexts, settings: CsatSettings,
                 silenced: Silenced | None = None) -> None:
        self._store = store
        self._shared = shared
        self._queue = queue
        self._transactions = transactions
        self.texts = texts
        self.settings = settings
        self._silenced = silenced
        self.absorbs_messages = settings.enabled

    def reconfigure(self, texts: SurveyTexts) -> None:
        """A config reload: the next survey and its answers use the new texts."""
        self.texts = texts

    # ---- the lifecycle -------------------------------------------------------------------

    async def closed(self, unit: Unit, conversation: Conversation, closure: Closure) -> None:
        if not self.settings.enabled or closure.reason is not CloseReason.OPERATOR \
                or conversation.status is ConversationStatus.BOT:
            return
        if conversation.first_response_at is None:
            return  # nobody answered (spam, a duplicate): nothing to rate
        identity = await self._shared.get_identity(conversation.reply_identity_id)
        if not identity.reachable or (self._silenced is not None and await self._silenced(
                conversation.customer_id, unit.now)):
            return
        customer = await self._shared.get_customer(conversation.customer_id)
        answerer = await self._store.last_answerer(conversation.id)
        survey = Survey(conversation.id, customer.id, identity.channel,
                        answerer[0] if answerer else None, answerer[1] if answerer else None,
                        customer.language, unit.now, unit.now + self.settings.expires)
        if not await self._store.add_survey(survey):
            return  # surveyed before (closed, reopened, closed again): once is enough
        buttons = [[Choice(str(n), presses.payload(PREFIX, conversation.id, n))
                    for n in RATINGS]]
        await self._queue.text_to_customer(
            unit, identity.channel, identity.chat_id,
            html.escape(self.texts.get("question", customer.language), quote=False), buttons)

    async def absorbs(self, unit: Unit, customer: Customer, identity: Identity,
                      content: Content) -> Conversation | None:
        """The text after a low rating is its comment; anything else starts a conversation."""
        if content.content_type != "text" or not content.text.strip():
            return None
        survey = await self._store.awaiting_comment(customer.id, unit.now)
        if survey is None or survey.rating is None:
            return None
        comment = " ".join(content.text.split())[:COMMENT_LIMIT]
        await self._store.add_comment(survey.conversation_id, comment)
        await self._post(unit, survey, f"{_stars(survey.rating)} — "
                         f"“{html.escape(comment, quote=False)}”")
        await self._say(unit, identity, "comment_thanks", survey.language)
        return await self._shared.get_conversation(survey.conversation_id)

    # ---- presses ---------------------------------------------------------------------------

    async def press(self, inbound: InboundPress) -> str:
        parts = inbound.payload.split(":")
        if len(parts) != 3 or not parts[1].isdigit() or parts[2] not in {
                str(n) for n in RATINGS}:
            logger.info("csat: a press with an odd payload %r", inbound.payload)
            return ""
        conversation_id, rating = int(parts[1]), int(parts[2])
        return await self._transactions.run(
            lambda unit: self._pressed(unit, inbound, conversation_id, rating))

    async def _pressed(self, unit: Unit, inbound: InboundPress, conversation_id: int,
                       rating: int) -> str:
        survey = await self._store.survey(conversation_id)
        identity = await self._shared.find_identity(inbound.channel, inbound.user_id)
        if survey is None or identity is None or identity.customer_id != survey.customer_id:
            logger.info("csat: %s %s pressed a rating of conversation %s (not theirs)",
                        inbound.channel, inbound.user_id, conversation_id)
            return ""
        if survey.rating is not None:
            return self.texts.get("press_again", survey.language)
        if unit.now >= survey.expires_at:
            return self.texts.get("press_expired", survey.language)
        low = rating <= LOW
        until = unit.now + self.settings.comment_wait if low else None
        if not await self._store.rate(conversation_id, rating, unit.now, until):
            return self.texts.get("press_again", survey.language)
        await self._post(unit, survey, _stars(rating))
        await self._say(unit, identity, "ask_comment" if low else "thanks", survey.language)
        return self.texts.get("press_done", survey.language)

    # ---- posting -----------------------------------------------------------------------------

    async def _post(self, unit: Unit, survey: Survey, text_html: str) -> None:
        """A notice in the conversation's topic, which /close closed: reopened for it and
        closed again, unless the customer's next conversation has it open meanwhile."""
        conversation = await self._shared.get_conversation(survey.conversation_id)
        current = await self._shared.open_conversation(survey.customer_id)
        if current is not None and current.topic_id == conversation.topic_id:
            await self._queue.notice(unit, conversation.id, text_html)
        else:
            await self._queue.notice_in_closed_topic(unit, conversation.id, text_html)

    async def _say(self, unit: Unit, identity: Identity, key: str, language: str | None
                   ) -> None:
        await self._queue.text_to_customer(
            unit, identity.channel, identity.chat_id,
            html.escape(self.texts.get(key, language), quote=False))


def _stars(rating: int) -> str:
    return f"⭐ {rating}/5"

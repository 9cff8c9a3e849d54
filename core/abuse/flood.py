"""Flood combining. The operator group's flood budget (~20 posts a minute) is shared by
every customer, so one sender writing faster than any person types must not spend it:
more than `max_messages` in `per` from one sender and the excess is still stored, but
kept off the desk; the sender is told once to slow down; once the flood pauses for
`combine_every` (or has gone on for `per`), the excess goes to the topic as one post.

Counting is in memory, per sender (channel and platform user), before intake: it costs a
dictionary lookup per message and no query, so PostgreSQL's one-statement intake stays on.
"""

from __future__ import annotations

import html
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from core.abuse.ports import AbuseStore, EventKind, Held
from core.delivery.queue import Queue
from core.lifecycle import LifecycleListener
from core.model import Conversation, Message
from core.ports import Store
from core.unit import Transactions, Unit

logger = logging.getLogger(__name__)

POST_LIMIT = 3500  # characters of a combined post (one Telegram message)
LINE_LIMIT = 200  # characters of one message in it
BATCH = 500  # held messages combined per round
SLOW_DOWN = {
    "en": "You are sending messages very fast. We have them all; please wait for our answer.",
    "ru": "Вы пишете очень быстро. Мы получили все сообщения; пожалуйста, дождитесь ответа.",
}


@dataclass(frozen=True, slots=True)
class FloodSettings:
    max_messages: int = 20
    per: timedelta = timedelta(seconds=10)
    combine_every: timedelta = timedelta(seconds=2)


class Flood(LifecycleListener):
    watches_senders = True

    def __init__(self, store: AbuseStore, shared: Store, queue: Queue,
                 transactions: Transactions, settings: FloodSettings,
                 texts: Mapping[str, str] | None = None) -> None:
        self._store = store
        self._shared = shared
        self._queue = queue
        self._transactions = transactions
        self.settings = settings
        self._texts = {**SLOW_DOWN, **(texts or {})}
        self._seen: dict[tuple[str, str], deque[datetime]] = {}
        self._told: set[tuple[str, str]] = set()  # told to slow down in this flood
        self._calls = 0

    def reconfigure(self, texts: Mapping[str, str] | None) -> None:
        """A config reload: the next slow-down notice uses the new texts."""
        self._texts = {**SLOW_DOWN, **(texts or {})}

    # ---- before intake: memory only -------------------------------------------------------

    def over_limit(self, channel: str, user_id: str, now: datetime) -> bool:
        key = (channel, user_id)
        times = self._seen.get(key)
        if times is None:
            times = self._seen[key] = deque()
        start = now - self.settings.per
        while times and times[0] <= start:
            times.popleft()
        times.append(now)
        self._calls += 1
        if self._calls % 10_000 == 0:
            self._forget_quiet(start)
        if len(times) <= self.settings.max_messages:
            self._told.discard(key)  # the flood is over: a next one is told again
            return False
        return True

    def _forget_quiet(self, start: datetime) -> None:
        """Drop senders with nothing in the window, so memory follows the active ones."""
        for key in [k for k, times in self._seen.items() if not times or times[-1] <= start]:
            del self._seen[key]

    # ---- in intake's unit --------------------------------------------------------------------

    async def held(self, unit: Unit, conversation: Conversation,
                   messages: Sequence[Message]) -> None:
        if not messages:
            return
        await self._store.add_events(conversation.customer_id, conversation.id, unit.now,
                                     EventKind.HELD, [message.id for message in messages])
        message = messages[0]
        source = message.source
        if source is None or (source.platform, message.author_id or "") in self._told:
            return
        self._told.add((source.platform, message.author_id or ""))
        customer = await self._shared.get_customer(conversation.customer_id)
        language = (customer.language or "").split("-")[0].lower()
        text = self._texts.get(language) or self._texts["en"]
        await self._queue.text_to_customer(unit, source.platform, source.chat_id,
                                           html.escape(text, quote=False))

    # ---- the combined posts ------------------------------------------------------------------

    async def combine(self) -> int:
        """Post held messages as one post per conversation, once its flood pauses for
        `combine_every` (or has waited `per`: a flood that never pauses is still shown);
        the number posted."""
        held = await self._store.held(BATCH)
        now = self._transactions.now()
        ready: list[list[Held]] = []
        for _, group in groupby(sorted(held, key=lambda h: (h.conversation_id, h.event_id)),
                                key=lambda h: h.conversation_id):
            items = list(group)
            if now - items[-1].at >= self.settings.combine_every or \
                    now - items[0].at >= self.settings.per or len(items) >= BATCH:
                ready.append(items)
        if not ready:
            return 0

        async def work(unit: Unit) -> None:
            await self._queue.notices(unit, [(items[0].conversation_id, combined_html(items))
                                             for items in ready])
            await self._store.mark_combined([h.event_id for items in ready for h in items])

        await self._transactions.run(work)
        return sum(len(items) for items in ready)


def combined_html(held: list[Held]) -> str:
    head = f"🌊 <b>{len(held)} more messages</b> sent too fast, combined:"
    lines = [head]
    size = len(head)
    for number, item in enumerate(held):
        text = " ".join(item.text.split())
        line = "• " + html.escape(text if len(text) <= LINE_LIMIT
                                  else text[: LINE_LIMIT - 1] + "…", quote=False)
        if size + len(line) + 1 > POST_LIMIT:
            lines.append(f"…and {len(held) - number} more (all stored)")
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)

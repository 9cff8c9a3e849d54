"""The page a visitor writes from (its address, the referrer, the browser's language and
clock), shown on the customer card of their topic.

The page sends its details with every message; they are stored (as an event the page
never shows) before intake commits the message, so the card, rendered when the topic is
made, always finds them. Only a change is stored: the same page again costs nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from core.model import Conversation
from core.ports import CustomerStore

from .channel import CHANNEL, PageContext
from .ports import EventKind, WebStore


class WebDetails:
    def __init__(self, store: WebStore, keep: int = 50_000) -> None:
        self._store = store
        # The details stored last per visitor (this process; a restart stores them again).
        self._known: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._keep = keep

    async def remember(self, visitor: str, context: PageContext, now: datetime) -> None:
        body = context.as_body()
        if self._known.get(visitor) == body:
            self._known.move_to_end(visitor)
            return  # the common case: a visitor's later messages cost nothing here
        await self._store.add_event(visitor, EventKind.DETAILS, body, None, now)
        self._known[visitor] = body
        self._known.move_to_end(visitor)
        while len(self._known) > self._keep:
            self._known.popitem(last=False)


class WebCardLines:
    """`CardLines` of web conversations: the visitor's page, from their latest details."""

    def __init__(self, customers: CustomerStore, store: WebStore) -> None:
        self._customers = customers
        self._store = store

    async def card_lines(self, conversation: Conversation, now: datetime) -> list[str]:
        if conversation.channel != CHANNEL:
            return []
        identity = await self._customers.get_identity(conversation.reply_identity_id)
        if identity.channel != CHANNEL:
            return []
        found = await self._store.latest_event(identity.chat_id, EventKind.DETAILS)
        if found is None:
            return []
        return ["🌐 Website visitor", *PageContext.read(found[2]).lines(now)]

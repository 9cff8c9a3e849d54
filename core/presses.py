"""Customers' button presses, routed to the capability whose buttons they are.

A capability that puts buttons under a bot message to a customer (`Queue.text_to_customer`
with choices) registers the prefix of their payloads (`"ss"` for `"ss:helped:12"`); a
press comes back from any channel as an `InboundPress`, and the handler returns the short
answer the platform shows the customer (empty: none). Handlers run their own unit of work and
must tolerate a press repeated, late, or on a conversation that moved on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core.model import InboundPress

logger = logging.getLogger(__name__)

PressHandler = Callable[[InboundPress], Awaitable[str]]
PAYLOAD_LIMIT = 64  # bytes: Telegram's callback_data


class Presses:
    def __init__(self) -> None:
        self._handlers: dict[str, PressHandler] = {}

    def register(self, prefix: str, handler: PressHandler) -> None:
        if ":" in prefix or prefix in self._handlers:
            raise ValueError(f"press prefix {prefix!r} is taken or contains ':'")
        self._handlers[prefix] = handler

    async def press(self, inbound: InboundPress) -> str:
        """Run the handler of the press's prefix; the answer to show (empty: none). A press
        of a button nobody handles (an old one, or another bot's) is answered with nothing."""
        prefix = inbound.payload.split(":", 1)[0]
        handler = self._handlers.get(prefix)
        if handler is None:
            logger.info("a press of an unknown button %r in %s %s", inbound.payload,
                        inbound.channel, inbound.chat_id)
            return ""
        return await handler(inbound)


def payload(prefix: str, *parts: object) -> str:
    """`prefix:part:part…`, checked against the platforms' limit."""
    value = ":".join([prefix, *(str(p) for p in parts)])
    if len(value.encode()) > PAYLOAD_LIMIT:
        raise ValueError(f"button payload over {PAYLOAD_LIMIT} bytes: {value!r}")
    return value

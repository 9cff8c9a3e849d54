"""Method registry and the per-call context handed to every Bot API method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..delivery import render_message
from ..limits import RateLimiter
from ..params import Params
from ..state import BotRecord, ChatRecord, Json, MessageRecord, State


@dataclass
class Call:
    state: State
    limiter: RateLimiter
    bot: BotRecord
    params: Params
    method: str  # canonical spelling, e.g. "sendMessage"

    def chat(self, name: str = "chat_id") -> ChatRecord:
        return self.state.chat_for_bot(self.bot, self.params.chat_id(name))

    def render(self, msg: MessageRecord) -> Json:
        return render_message(self.state, msg, self.bot.id)

    def acquire(self, chat: ChatRecord, count: int = 1) -> None:
        """Charge ``count`` outgoing messages to the chat's and the bot's flood budgets."""
        self.limiter.acquire(
            bot_id=self.bot.id,
            chat_id=chat.id,
            private=chat.type == "private",
            method=self.method,
            count=count,
        )


Handler = Callable[[Call], Awaitable[Any]]
# lower-case name -> (canonical name, handler); Telegram method names are case-insensitive.
REGISTRY: dict[str, tuple[str, Handler]] = {}


def api_method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        REGISTRY[name.lower()] = (name, handler)
        return handler

    return register


def canonical_name(method: str) -> str:
    entry = REGISTRY.get(method.lower())
    return entry[0] if entry else method

"""Control API: reading what happened (messages, topics, requests) and waiting for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from . import topics
from .base import BotRef, EmulatorBase
from .limits import Violation
from .server import RequestRecord
from .state import BotRecord, Json

T = TypeVar("T")


class InspectionApi(EmulatorBase):
    # ---- inspection ---------------------------------------------------------------------
    def messages(
        self,
        chat_id: int,
        thread_id: int | None = None,
        from_bot: bool | BotRecord | int | None = None,
        *,
        bot: BotRef = None,
    ) -> list[Json]:
        """Live messages of a chat in order, as Bot API dicts (edits applied).

        thread_id: only that topic. from_bot: True = sent by any bot, False = by people,
        a bot/bot id = by that bot. Private chats: pass bot= when several bots exist.
        """
        chat = self._chat(chat_id, bot)
        result = []
        for msg in chat.messages.values():
            if msg.deleted or (thread_id is not None and msg.thread_id != thread_id):
                continue
            if not self._sender_matches(msg, from_bot):
                continue
            result.append(self._render(msg))
        return result

    def message(self, chat_id: int, message_id: int, *, bot: BotRef = None) -> Json | None:
        msg = self._chat(chat_id, bot).live_message(message_id)
        return self._render(msg) if msg else None

    def topics(self, chat_id: int) -> list[Json]:
        return [topics.topic_info(t) for t in self._group(chat_id).topics.values()]

    def pending_updates(self, bot: BotRef = None) -> list[Json]:
        """Updates queued for a bot and not yet confirmed by getUpdates offset."""
        return list(self._bot_for(bot).updates)

    def callback_answer(self, query_id: str) -> Json | None:
        query = self.state.callback_queries.get(query_id)
        return query["answer"] if query else None

    @property
    def requests(self) -> list[RequestRecord]:
        return self.server.requests

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[RequestRecord]:
        """The request log filtered by method (case-insensitive) and success."""
        return [
            r
            for r in self.server.requests
            if (method is None or r.method.lower() == method.lower())
            and (ok is None or r.ok == ok)
        ]

    def clear_requests(self) -> None:
        self.server.requests.clear()

    @property
    def violations(self) -> list[Violation]:
        return self.limiter.violations

    def snapshot(self) -> Json:
        """A JSON summary of the world (what ``GET /_control/state`` answers)."""
        state = self.state
        return {
            "bots": [
                {"id": b.id, "username": b.username, "pending_updates": len(b.updates)}
                for b in state.bots.values()
            ],
            "users": [u.to_api() for u in state.users.values() if not u.is_bot],
            "groups": [
                {
                    "id": g.id,
                    "title": g.title,
                    "is_forum": g.is_forum,
                    "members": [m.__dict__ for m in g.members.values()],
                    "topics": self.topics(g.id),
                    "messages": sum(not m.deleted for m in g.messages.values()),
                }
                for g in state.groups.values()
            ],
            "private_chats": [
                {
                    "bot_id": c.bot_id,
                    "user_id": c.user_id,
                    "started": c.started,
                    "blocked": c.blocked,
                    "messages": sum(not m.deleted for m in c.messages.values()),
                }
                for c in state.privates.values()
            ],
            "rate_limits": self.limiter.config.__dict__,
            "violations": len(self.limiter.violations),
            "requests": len(self.server.requests),
        }

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - bounding the wait is this helper's job
        message: str | None = None,
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every state change and at
        least every 0.1 s, so predicates over external state work too); returns its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(message, timeout))
            await self.state.notifier.wait(min(remaining, 0.1))

    def _timeout_report(self, message: str | None, timeout: float) -> str:
        lines = [f"condition not met within {timeout}s" + (f": {message}" if message else "")]
        recent = [r for r in self.server.requests if not (r.method == "getUpdates" and r.ok)]
        lines.append(f"last {min(len(recent), 15)} Bot API calls (getUpdates omitted):")
        for record in recent[-15:]:
            outcome = "ok" if record.ok else record.description or "dropped"
            text = record.params.get("text") or record.params.get("caption") or ""
            lines.append(
                f"  {record.method} chat={record.chat_id} -> {record.status} {outcome}"
                + (f" text={str(text)[:60]!r}" if text else "")
            )
        if not recent:
            lines.append("  (none: is the bot polling this emulator's base_url?)")
        return "\n".join(lines)

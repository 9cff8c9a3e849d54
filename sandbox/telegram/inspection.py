"""Control API: reading what happened (messages, topics, requests) and waiting for it."""

from __future__ import annotations

from ..common.inspection import RequestLogInspection
from . import topics
from .base import BotRef, EmulatorBase
from .limits import Violation
from .server import RequestRecord
from .state import BotRecord, Json


class InspectionApi(EmulatorBase, RequestLogInspection[RequestRecord, Violation]):
    _poll_method = "getUpdates"
    _report_title = "Bot API calls (getUpdates omitted)"
    _report_hint = "(none: is the bot polling this emulator's base_url?)"

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

    def _report_line(self, record: RequestRecord) -> str:
        outcome = "ok" if record.ok else record.description or "dropped"
        text = record.params.get("text") or record.params.get("caption") or ""
        line = f"  {record.method} chat={record.chat_id} -> {record.status} {outcome}"
        return line + (f" text={str(text)[:60]!r}" if text else "")

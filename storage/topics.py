"""Which operator topic a conversation has: stored, claimed where none is, forgotten."""

from __future__ import annotations

from storage.base import TortoiseBase


class TopicRepository(TortoiseBase):
    async def set_topic(self, conversation_id: int, topic_id: int | None) -> None:
        await self._raw("UPDATE conversation SET topic_id = ?, card_posted = ? WHERE id = ?",
                        [topic_id, False, conversation_id])

    async def claim_topic(self, conversation_id: int, topic_id: int) -> int:
        # Conditional, so the outbox storing the topic it created and the desk adopting one
        # whose answer was lost (core/delivery/orphans.py) can't overwrite each other: first wins.
        for _ in range(3):  # a topic forgotten between the two statements: claim again
            rows = await self._raw(
                "UPDATE conversation SET topic_id = ?, card_posted = ? WHERE id = ?"
                " AND topic_id IS NULL RETURNING topic_id", [topic_id, False, conversation_id],
            )
            if not rows:
                rows = await self._raw("SELECT topic_id FROM conversation WHERE id = ?",
                                       [conversation_id])
                if not rows:
                    break
            if rows[0]["topic_id"] is not None:
                return int(rows[0]["topic_id"])
        raise LookupError(f"conversation {conversation_id}: no topic could be stored")

    async def forget_topic(self, topic_id: int, desk_chat: str | None = None) -> None:
        if desk_chat is None:
            await self._raw(
                "UPDATE conversation SET topic_id = NULL, card_posted = ? WHERE topic_id = ?"
                " AND desk_chat IS NULL", [False, topic_id])
        else:
            await self._raw(
                "UPDATE conversation SET topic_id = NULL, card_posted = ? WHERE topic_id = ?"
                " AND desk_chat = ?", [False, topic_id, desk_chat])

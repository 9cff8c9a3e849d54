"""Posted customer cards (core.delivery.cards.CardPosts), raw SQL."""

from __future__ import annotations

from storage.base import TortoiseBase


class TortoiseCardPosts(TortoiseBase):
    async def set_card_post(self, conversation_id: int, post_id: str) -> None:
        # A card posted again (its topic was recreated) replaces the one before.
        await self._raw("INSERT INTO card_post (conversation_id, post_id) VALUES (?, ?)"
                        " ON CONFLICT (conversation_id) DO UPDATE SET post_id = excluded.post_id",
                        [conversation_id, post_id])

    async def card_post(self, conversation_id: int) -> str | None:
        rows = await self._raw("SELECT post_id FROM card_post WHERE conversation_id = ?",
                               [conversation_id])
        return str(rows[0]["post_id"]) if rows else None

    async def first_post_of(self, conversation_id: int) -> int | None:
        rows = await self._raw("SELECT message_id FROM first_post WHERE conversation_id = ?"
                               " ORDER BY message_id LIMIT 1", [conversation_id])
        return int(rows[0]["message_id"]) if rows else None

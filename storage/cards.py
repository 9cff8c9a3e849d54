"""Posted customer cards (core.delivery.cards.CardPosts), raw SQL."""

from __future__ import annotations

from storage.base import TortoiseBase


class TortoiseCardPosts(TortoiseBase):
    async def set_card_post(self, conversation_id: int, post_id: str) -> None:
        # A card posted again (its topic was recreated) replaces the one before.
        await self._raw("INSERT INTO card_post (conversation_id, post_id) VALUES (?, ?)"
                        " ON CONFLICT (conversation_id) DO UPDATE SET post_id = excluded.post_id",
                        [conversation_id, post_id])

    async def card_post(self, topic_id: int, desk_chat: str | None) -> str | None:
        # Keyed by the conversation that posted it; a later conversation of the customer
        # goes on in the same topic under that card.
        return await self._in_topic(
            "SELECT cp.post_id AS found, c.desk_chat FROM card_post cp JOIN conversation c"
            " ON c.id = cp.conversation_id WHERE c.topic_id = ? ORDER BY c.id DESC",
            topic_id, desk_chat)

    async def first_post_in(self, topic_id: int, desk_chat: str | None) -> int | None:
        found = await self._in_topic(
            "SELECT fp.message_id AS found, c.desk_chat FROM first_post fp JOIN conversation c"
            " ON c.id = fp.conversation_id WHERE c.topic_id = ?"
            " ORDER BY c.id DESC, fp.message_id", topic_id, desk_chat)
        return int(found) if found is not None else None

    async def _in_topic(self, query: str, topic_id: int, desk_chat: str | None) -> str | None:
        """The first row's value of the topic in that group (topic ids are per group)."""
        rows = await self._raw(query, [topic_id])
        return next((str(r["found"]) for r in rows if r["desk_chat"] == desk_chat), None)

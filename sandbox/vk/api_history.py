"""messages.getConversations and messages.getHistory: reading the community's mailbox (what a
client does to catch up after the long poll said events were lost)."""

from __future__ import annotations

from .errors import param_error
from .registry import Call, method
from .state import Json

MAX_COUNT = 200


def _count(call: Call, default: int) -> int:
    count = call.int("count", default)
    if not 0 <= count <= MAX_COUNT:
        raise param_error(f"count must be between 0 and {MAX_COUNT}")
    return count


@method("messages.getConversations")
async def get_conversations(call: Call) -> Json:
    """Conversations with at least one message, the most recent first."""
    offset, count = call.int("offset", 0), _count(call, 20)
    convs = [c for c in call.community.conversations.values()
             if any(not m.deleted for m in c.messages.values())]
    convs.sort(key=lambda c: max(c.messages), reverse=True)
    items = []
    for conv in convs[offset:offset + count]:
        last = conv.messages[max(conv.messages)]
        items.append({
            "conversation": {
                "peer": {"id": conv.peer_id, "type": "user", "local_id": conv.peer_id},
                "last_message_id": last.id,
                "in_read": last.id,
                "out_read": last.id,
                "can_write": {"allowed": conv.allowed is True},
            },
            "last_message": last.to_api(),
        })
    return {"count": len(convs), "items": items}


@method("messages.getHistory")
async def get_history(call: Call) -> Json:
    """A conversation's messages, newest first (``rev=1``: oldest first)."""
    conv = call.community.conversations.get(call.peer())
    messages = [m for m in (conv.messages.values() if conv else []) if not m.deleted]
    messages.sort(key=lambda m: m.id, reverse=not call.bool("rev"))
    offset, count = call.int("offset", 0), _count(call, 20)
    items = [m.to_api() for m in messages[offset:offset + count]]
    return {"count": len(messages), "items": items}

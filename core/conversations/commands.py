"""The conversation commands operators type in a topic, and the buttons under its card."""

from __future__ import annotations

from core.commands import Button, Command, Commands, Invocation
from core.conversations.linking import Linking
from core.conversations.service import Conversations


def register(commands: Commands, conversations: Conversations, linking: Linking) -> None:
    async def take(i: Invocation) -> None:
        assert i.topic_id is not None
        await conversations.take(i.topic_id, i.operator_id, i.operator_name,
                                 desk_chat=i.desk_chat)

    async def close(i: Invocation) -> None:
        assert i.topic_id is not None
        await conversations.close_topic(i.topic_id, i.operator_id, i.operator_name,
                                        desk_chat=i.desk_chat)

    async def reopen(i: Invocation) -> None:
        assert i.topic_id is not None
        await conversations.reopen(i.topic_id, i.operator_name, desk_chat=i.desk_chat)

    async def link(i: Invocation) -> None:
        # `/link 57`: this topic's customer and customer #57 are the same person.
        assert i.topic_id is not None
        number = i.args.strip().lstrip("#")
        if number.isdigit():
            await linking.link_customers(i.topic_id, int(number), i.operator_id,
                                         i.operator_name, desk_chat=i.desk_chat)

    commands.register(Command("take", "Assign this conversation to yourself", take, menu=False,
                              button=Button("🙋 Take", answer="Assigned to you", order=10)))
    commands.register(Command("close", "Close this conversation", close,
                              button=Button("✅ Close", answer="Closed", order=30)))
    commands.register(Command("reopen", "Reopen this conversation", reopen, menu=False,
                              button=Button("🔓 Reopen", answer="Reopen requested", order=40)))
    commands.register(Command("link", "/link N: the same person as customer #N", link,
                              menu=False))

"""The operator desk's groups: the operator group, and departments' own forum groups.

Each group is its own `DeskPort` with its own rate key (a bot may post about 20 messages a
minute into one group, all topics together), so a busy group never holds another's posts.
A conversation's topic lives in the group named by `Conversation.desk_chat` (None: the
operator group); a post that belongs to no conversation names its group in the row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from core.model import Conversation
from core.ports import DeskPort

# Seconds a send into a group may wait for the group's budget, when there are several
# groups, before its lane gives its worker back (see Desks.patience).
YIELD_AFTER = 0.5


class Desks:
    def __init__(self, main: DeskPort, groups: Mapping[str, DeskPort] | None = None,
                 department_name: Callable[[str], str | None] | None = None) -> None:
        self.main = main
        self._groups = {chat: desk for chat, desk in (groups or {}).items()
                        if desk is not main}
        self._name = department_name or (lambda _department: None)

    def of(self, conversation: Conversation) -> DeskPort:
        """The group of the conversation's topic (a group no longer configured: the
        operator group, where operators still see it)."""
        return self.by_chat(conversation.desk_chat)

    def by_chat(self, chat_id: str | None) -> DeskPort:
        if chat_id is None:
            return self.main
        return self._groups.get(chat_id, self.main)

    @property
    def several(self) -> bool:
        """Whether there are departments' groups besides the operator group."""
        return bool(self._groups)

    @property
    def patience(self) -> float | None:
        """How long a send into any of the groups may wait for its group's budget (None:
        as long as it takes). The outbox's desk workers serve every group: with several
        groups, a lane that waits out one group's window, at any of its sends (the topic,
        the card, a post), would keep a worker from the other groups' lanes, and a flood in
        one department would hold the first posts of another back by a window. So it
        gives its worker back instead (WaitTooLong): its rows are due again when the
        window opens, and what it did so far (a topic made, a card posted) is kept."""
        return YIELD_AFTER if self._groups else None

    def is_desk_chat(self, chat_id: str) -> bool:
        return chat_id in self._groups or chat_id == getattr(self.main, "chat_id", None)

    def all(self) -> list[DeskPort]:
        return [self.main, *self._groups.values()]

    def department_name(self, conversation: Conversation) -> str | None:
        """The department's name for the card (None: no departments)."""
        return self._name(conversation.department) if conversation.department else None

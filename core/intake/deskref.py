"""Where the operator desk lives."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeskRef:
    """Where the operator desk lives: its platform and group chat."""

    platform: str
    chat_id: str
    # Departments' own forum groups (core/departments): their topics are desk topics too.
    groups: frozenset[str] = frozenset()

    def scope(self, chat_id: str) -> str | None:
        """A conversation's `desk_chat` for a topic in `chat_id` (None: the operator group,
        where anything that is no department's group counts)."""
        return chat_id if chat_id in self.groups and chat_id != self.chat_id else None

    def is_desk(self, platform: str, chat_id: str) -> bool:
        return platform == self.platform and (chat_id == self.chat_id or chat_id in self.groups)

"""The departments as configured: who they are, where they work, how customers reach them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    names: dict[str, str]  # language code → name
    desk_chat: str | None  # its forum group (None: the operator group)
    on_duty: tuple[str, ...] = ()

    def name(self, language: str | None = None) -> str:
        base = language.split("-")[0].lower() if language else None
        if base and base in self.names:
            return self.names[base]
        return self.names.get("en") or next(iter(self.names.values()))


@dataclass(frozen=True, slots=True)
class Routing:
    ask: bool  # ask new customers to choose
    default: str  # the department of a customer who does not choose
    ask_wait: timedelta


class Departments:
    def __init__(self, departments: Sequence[Department], routing: Routing) -> None:
        self.all = tuple(departments)
        self.routing = routing
        self._by_id = {d.id: d for d in self.all}

    def replace_with(self, other: Departments) -> None:
        """A config reload: the departments' names and on-duty operators from `other`;
        everyone holding this object sees them at once (the caller checked that the ids and
        groups are unchanged; routing stays as started)."""
        self.all, self._by_id = other.all, other._by_id

    def get(self, department_id: str | None) -> Department | None:
        return self._by_id.get(department_id or "")

    @property
    def default(self) -> Department:
        return self._by_id[self.routing.default]

    def groups(self) -> frozenset[str]:
        """The departments' own groups (not the operator group)."""
        return frozenset(d.desk_chat for d in self.all if d.desk_chat is not None)

    def on_duty_of(self, department_id: str) -> tuple[str, ...]:
        found = self.get(department_id)
        return found.on_duty if found else ()

    def name_of(self, department_id: str) -> str | None:
        found = self.get(department_id)
        return found.name() if found else None

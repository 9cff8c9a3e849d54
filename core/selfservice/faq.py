"""The FAQ as the self-service capability sees it: entries with a text per language."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FaqText:
    """An entry in one language: the question, other ways to ask it, the answer."""

    question: str
    answer: str
    phrasings: tuple[str, ...] = ()

    @property
    def askings(self) -> tuple[str, ...]:
        return (self.question, *self.phrasings)


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    texts: Mapping[str, FaqText] = field(default_factory=dict)  # language code → text
    department: str | None = None  # where a hand-over after this entry goes

    def text(self, *languages: str | None) -> tuple[str, FaqText]:
        """The entry's text in the first of `languages` it has, else in its first one."""
        for language in languages:
            if language and language in self.texts:
                return language, self.texts[language]
        language = next(iter(self.texts))
        return language, self.texts[language]


class Faq:
    def __init__(self, entries: Iterable[FaqEntry] = ()) -> None:
        self.entries = tuple(entries)
        self._by_id = {e.id: e for e in self.entries}
        seen: dict[str, None] = {}
        for entry in self.entries:
            seen.update(dict.fromkeys(entry.texts))
        self._languages = tuple(seen)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, entry_id: str) -> FaqEntry | None:
        return self._by_id.get(entry_id)

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language some entry has, in the order they first appear."""
        return self._languages

"""The language a customer wrote in, among the FAQ's: by script (Cyrillic, Latin), and for
Latin letters, Russian typed in translit or not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core.selfservice.analyzer import Script, Word

CYRILLIC_LANGUAGES = ("ru", "uk", "be", "bg", "kk", "sr", "mk", "ky", "tg", "mn")


class FillerCheck(Protocol):
    def is_filler(self, word: Word) -> bool: ...


def detect_language(words: Sequence[Word], languages: Sequence[str],
                    filler: FillerCheck) -> str | None:
    """The FAQ language `words` are written in (None: no letters to tell by).

    Any Cyrillic word means a Cyrillic language (a Russian speaker mixing in English
    terms: "сколько стоит day pass"). Latin words are Russian typed in translit when more
    of them read as Russian words than not (English function words count for English)."""
    cyrillic = sum(w.script is Script.CYRILLIC for w in words)
    latin = [w for w in words if w.script is Script.LATIN]
    if cyrillic:
        return _first(languages, CYRILLIC_LANGUAGES, "ru")
    if not latin:
        return None
    russian = sum(w.translit and len(w.surface) > 2 for w in latin)
    english = sum(not w.translit or (filler.is_filler(w) and w.surface.isascii()
                                     and w.lemma == w.surface) for w in latin)
    if russian > english:
        return _first(languages, ("ru",), "ru")
    latin_languages = [lang for lang in languages if lang not in CYRILLIC_LANGUAGES]
    return "en" if "en" in latin_languages or not latin_languages else latin_languages[0]


def _first(languages: Sequence[str], wanted: Sequence[str], default: str) -> str:
    return next((lang for lang in wanted if lang in languages), default)

"""What a message is before it is a question: small talk (a greeting, thanks, "ok", an
emoji), or a request for a person ("оператор", "живой человек", "/human"). A greeting with
a question in it is a question: the greeting is cut off and the rest is matched."""

from __future__ import annotations

import re
from enum import StrEnum

from core.selfservice import lexicon
from core.selfservice.analyzer import Analyzer, Script, Word, normalize


class Smalltalk(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    BYE = "bye"
    ACK = "ack"  # "ok", "понятно", an emoji


def _phrases(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){'(?:' + pattern + ')'}(?![\w])", re.IGNORECASE)


_GREETING = _phrases(lexicon.GREETINGS)
_THANKS = _phrases(lexicon.THANKS)
_BYE = _phrases(lexicon.FAREWELLS)
_ACK = _phrases(lexicon.ACKNOWLEDGEMENTS)
_EXTRA = _phrases(lexicon.SMALLTALK_EXTRA)
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_COMMAND = re.compile(r"^/(\w+)(?:@\w+)?\b")
# "на 5 человек", "сколько человек": people counted, not a person asked for.
_COUNTED = frozenset({"сколько", "несколько", "много", "мало", "how", "many",
                      "per", "for"})


def strip_smalltalk(text: str) -> str:
    """`text` without its greetings, thanks and farewells (what the question is)."""
    value = normalize(text)
    for pattern in (_GREETING, _THANKS, _BYE):
        value = pattern.sub(" ", value)
    return value


def smalltalk(text: str) -> Smalltalk | None:
    """The kind of small talk `text` is, or None when something else is said in it."""
    value = normalize(text)
    found = [kind for kind, pattern in ((Smalltalk.THANKS, _THANKS),
                                        (Smalltalk.GREETING, _GREETING),
                                        (Smalltalk.BYE, _BYE), (Smalltalk.ACK, _ACK))
             if pattern.search(value)]
    for pattern in (_GREETING, _THANKS, _BYE, _ACK, _EXTRA):
        value = pattern.sub(" ", value)
    if _LETTERS.search(value) or any(c.isdigit() for c in value):
        return None
    return found[0] if found else Smalltalk.ACK  # emoji, punctuation, a sticker


class PersonWords:
    """Asking for a person, in words: built once from the lexicon."""

    def __init__(self, analyzer: Analyzer) -> None:
        def lemmas(words: str) -> frozenset[str]:
            return frozenset(w.lemma for w in analyzer.words(words)) | frozenset(words.split())

        self._strong = lemmas(lexicon.PERSON_STRONG)
        self._nouns = lemmas(lexicon.PERSON_NOUNS) | self._strong
        self._verbs = lemmas(lexicon.PERSON_VERBS)
        self._bots = lemmas(lexicon.BOTS)

    def asks_for_person(self, text: str, words: list[Word]) -> bool:
        command = _COMMAND.match(text.strip())
        if command and f"/{command.group(1).lower()}" in lexicon.PERSON_COMMANDS:
            return True
        keys = [{w.surface, w.lemma} for w in words]
        if any(k & self._strong for k in keys) and not self._counted(words):
            return True
        if any(w.negated and {w.surface, w.lemma} & self._bots for w in words):
            return True  # "мне нужен сотрудник, а не бот"
        asked = any(k & self._verbs for k in keys)
        return asked and any(k & self._nouns for k in keys) and not self._counted(words)

    def _counted(self, words: list[Word]) -> bool:
        """A person noun after a number or a quantity word ("офис на 5 человек")."""
        for before, word in zip(words, words[1:], strict=False):
            if {word.surface, word.lemma} & self._nouns and (
                    before.script is Script.NUMBER or before.surface in _COUNTED):
                return True
        return False

"""The FAQ matcher: which entry a customer message asks, or that a person is needed.

How it decides (docs/architecture.md, "Self-service", says it for admins):

1. Small talk ("привет", "спасибо", "ok", 👍) gets a polite reply, never an entry; asking
   for a person ("оператор", "живой человек", "/human") hands over. A greeting around a
   question is cut off and the question matched.
2. The rest is analyzed into words with their terms (analyzer.py); filler words ("как",
   "подскажите", "please") weigh nothing. A word the FAQ does not know is corrected to one
   it knows when one is a letter or two away (typos).
3. Each entry is scored by how much of the *message* it explains (its words' worth, the
   rarer the more, found among the entry's terms; a word of the same concept group counts
   less) and how much of its best *asking* the message covers.
4. An entry is answered only when the message is well explained by it and clearly better
   than the next entry. Words that report something gone wrong ("сломались", "списали
   дважды", "vanished"), a negated word ("не работает") and a reference number ("бронь
   3391") weigh extra unless the entry itself says them: such a message shares words with
   an entry but asks something else, and needs a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from core.selfservice.analyzer import Analyzer, Script, Word
from core.selfservice.faq import Faq
from core.selfservice.index import Asking, FaqIndex
from core.selfservice.intents import PersonWords, Smalltalk, smalltalk, strip_smalltalk
from core.selfservice.language import detect_language

# What the decision rests on (measured by `python -m bench.faq`, docs/benchmarks.md).
ANSWER_SCORE = 0.5  # the least score answered
MIN_EXPLAINED = 0.5  # the least share of the message the entry must explain
MARGIN = 0.08  # the least lead over the next entry
ASKING_PART = 0.4  # of the score: how much of the entry's best asking the message says
STEM_MATCH = 0.8  # a word of the same root ("оплатить" for "оплата")
CONCEPT_MATCH = 0.7  # a word of the same concept group, against the same word
FUZZY_MATCH = 0.9  # a word corrected from a typo
REFERENCE_WEIGHT = 1.3  # a number of 3+ digits: an order, a booking, a room
SMALL_NUMBER_WEIGHT = 0.2
_POS_WEIGHT = {"NOUN": 1.0, "ADJF": 0.7, "ADJS": 0.7, "VERB": 0.8, "INFN": 0.8,
               "PRTF": 0.7, "PRTS": 0.7, "GRND": 0.7, "ADVB": 0.5, "COMP": 0.5}
MAX_WORDS = 60  # a long message is judged by its start (and is rarely an FAQ question)


class Decision(StrEnum):
    ANSWER = "answer"
    SMALLTALK = "smalltalk"
    PERSON = "person"  # asked for a person
    UNSURE = "unsure"  # no entry is clearly what was asked


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    entry_id: str | None = None
    score: float = 0.0
    language: str | None = None  # the language the message is written in
    smalltalk: Smalltalk | None = None
    runner_up: str | None = None  # the next best entry (for `relaydesk faq try`)


@dataclass(slots=True)
class _MessageWord:
    terms: frozenset[str]
    weight: float
    strict: bool  # only the same word matches it (an incident, a negation, a number)
    factor: float = 1.0  # < 1 for a corrected typo
    concepts: frozenset[int] = frozenset()
    stems: frozenset[str] = frozenset()
    incident: bool = False  # something gone wrong, or negated: the entry must say it too


class Matcher:
    def __init__(self, faq: Faq, analyzer: Analyzer) -> None:
        self.faq = faq
        self.index = FaqIndex(faq, analyzer)
        self._analyzer = analyzer
        self._person = PersonWords(analyzer)
        self._fixes: dict[str, Word | None] = {}

    def with_faq(self, faq: Faq) -> Matcher:
        """A matcher for another FAQ (a config reload), sharing the loaded dictionary."""
        return Matcher(faq, self._analyzer)

    def match(self, text: str, language: str | None = None) -> Verdict:
        """What to do with a customer's text (`language`: theirs, when known)."""
        words = self._analyzer.words(text)[:MAX_WORDS]
        detected = detect_language(words, self.faq.languages, self.index)
        if self._person.asks_for_person(text, words):
            return Verdict(Decision.PERSON, language=detected)
        kind = smalltalk(text)
        if kind is not None:
            return Verdict(Decision.SMALLTALK, language=detected, smalltalk=kind)
        question = self._analyzer.words(strip_smalltalk(text))[:MAX_WORDS]
        return self._decide(self._weigh(question), detected)

    def _decide(self, message: list[_MessageWord], language: str | None) -> Verdict:
        candidates = self.index.candidates(
            (t for w in message for t in w.terms | w.stems),
            (c for w in message if not w.strict for c in w.concepts))
        if not candidates:
            return Verdict(Decision.UNSURE, language=language)
        said, said_concepts = self._said(message)
        scored = self._top_two(message, candidates, said, said_concepts)
        (best, explained), number = scored[0]
        second = scored[1][0][0] if len(scored) > 1 else 0.0
        entry = self.faq.entries[number].id
        runner_up = self.faq.entries[scored[1][1]].id if len(scored) > 1 else None
        entry_terms = self.index.entry_terms[number]
        unsaid = any(w.incident and not w.terms & entry_terms for w in message)
        if best >= ANSWER_SCORE and explained >= MIN_EXPLAINED and best - second >= MARGIN \
                and not unsaid:
            return Verdict(Decision.ANSWER, entry, round(best, 3), language,
                           runner_up=runner_up)
        return Verdict(Decision.UNSURE, None, round(best, 3), language, runner_up=entry)

    # ---- the message's words ------------------------------------------------------------

    def _weigh(self, words: list[Word]) -> list[_MessageWord]:
        index = self.index
        out: list[_MessageWord] = []
        for word in words:
            if index.is_filler(word):
                continue  # a negated filler word ("не могу", "не будет") says no more
            if word.script is Script.NUMBER:
                out.append(self._number(word))
                continue
            out.append(self._content(word))
        return out

    def _number(self, word: Word) -> _MessageWord:
        weight = self.index.unknown_weight
        if self.index.idf(word.terms):
            return _MessageWord(word.terms, self.index.idf(word.terms), strict=True)
        if len(word.surface) >= 3:
            return _MessageWord(word.terms, weight * REFERENCE_WEIGHT, strict=True)
        return _MessageWord(word.terms, weight * SMALL_NUMBER_WEIGHT, strict=True)

    def _content(self, word: Word) -> _MessageWord:
        index = self.index
        terms = index.terms_of(word)
        factor = 1.0
        known = index.idf(terms) or index.concept_idf(index.concepts_of(terms))
        unknown = index.unknown_weight * _POS_WEIGHT.get(word.pos or "", 0.8)
        if word.negated or terms & index.incidents:
            return _MessageWord(terms, max(known, unknown), strict=True, incident=True)
        if not known:
            fixed = self._fix(word)
            if fixed is not None:
                if index.is_filler(fixed):
                    return _MessageWord(terms, 0.0, strict=False)
                terms, factor = frozenset(fixed.terms), FUZZY_MATCH
                known = index.idf(terms) or index.concept_idf(index.concepts_of(terms))
        return _MessageWord(terms, known or unknown, strict=False, factor=factor,
                            concepts=index.concepts_of(terms), stems=word.stems)

    def _fix(self, word: Word) -> Word | None:
        """The FAQ's word a typo stands for: one or two letters away (by length), in the
        same script (for translit, its Cyrillic spelling too)."""
        if word.surface in self._fixes:
            return self._fixes[word.surface]
        fixed = None
        if len(word.surface) >= 4 and not (word.known and word.script is Script.CYRILLIC
                                           and len(word.surface) < 5):
            fixed = self._closest(word.surface, word.script, word.known)
            if fixed is None and word.script is Script.LATIN:
                guesses = [t for t in word.terms if not t.isascii()]
                for guess in guesses:
                    fixed = fixed or self._closest(guess, Script.CYRILLIC, word.known)
        self._fixes[word.surface] = fixed
        return fixed

    def _closest(self, surface: str, script: Script, known: bool) -> Word | None:
        vocabulary = self.index.vocabulary.get(script)
        if not vocabulary:
            return None
        limit = 1 if known or len(surface) <= 5 else 2
        found = process.extractOne(surface, vocabulary.keys(), scorer=Levenshtein.distance,
                                   score_cutoff=limit)
        return vocabulary[found[0]] if found else None

    # ---- scoring ------------------------------------------------------------------------

    def _said(self, message: list[_MessageWord]) -> tuple[set[str], set[int]]:
        """The message's terms (stems among them) and concepts an asking may be covered
        by."""
        said: set[str] = set()
        said_concepts: set[int] = set()
        for word in message:
            said |= word.terms | word.stems
            said_concepts |= word.concepts
        return said, said_concepts

    def _top_two(self, message: list[_MessageWord], candidates: set[int], said: set[str],
                 said_concepts: set[int]) -> list[tuple[tuple[float, float], int]]:
        """The two best entries, best first, as ((score, share), entry). The share of the
        message an entry explains is cheap and bounds its score (a perfect asking adds at
        most ASKING_PART), so askings are only looked at while they could still matter."""
        shares = sorted(((self._share(message, n), n) for n in candidates), reverse=True)
        top: list[tuple[tuple[float, float], int]] = []
        for share, number in shares:
            if len(top) == 2 and (1 - ASKING_PART) * share + ASKING_PART < top[1][0][0]:
                break
            covered = max((_covered(a, said, said_concepts)
                           for a in self.index.askings[number]), default=0.0)
            top.append((((1 - ASKING_PART) * share + ASKING_PART * covered, share), number))
            top = sorted(top, reverse=True)[:2]
        return top

    def _share(self, message: list[_MessageWord], number: int) -> float:
        """The share of the message entry `number` explains."""
        index = self.index
        terms, concepts = index.entry_terms[number], index.entry_concepts[number]
        stems = index.entry_stems[number]
        total = explained = 0.0
        for word in message:
            total += word.weight
            if word.terms & terms:
                explained += word.weight * word.factor
            elif word.stems & stems and not word.strict:
                explained += word.weight * word.factor * STEM_MATCH
            elif word.concepts & concepts:
                explained += word.weight * word.factor * CONCEPT_MATCH
        return explained / total if total > 0 else 0.0


def _covered(asking: Asking, said: set[str], said_concepts: set[int]) -> float:
    """How much of one asking the message says."""
    total = asking.total
    if total <= 0 or not (asking.every_term & said or asking.every_concept & said_concepts):
        return 0.0
    got = 0.0
    for terms, weight, concepts, stems in zip(asking.words, asking.weights, asking.concepts,
                                              asking.stems, strict=True):
        if terms & said:
            got += weight
        elif stems & said:
            got += weight * STEM_MATCH
        elif concepts & said_concepts:
            got += weight * CONCEPT_MATCH
    return got / total

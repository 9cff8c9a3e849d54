"""The FAQ, indexed for matching: every way an entry is asked (its question and phrasings,
in every language it has) as analyzed words, what each term is worth, and the vocabulary
that typos are corrected against.

A term's worth is how well it tells entries apart (an inverse document frequency over
entries): "парковка" names one entry, "стоить" several. Words of the general lexicon
(filler, concept groups) are part of the vocabulary too, so a typo of "сколько" is
recognised as filler, and "машина" meets an entry that says "парковка".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from core.selfservice import lexicon
from core.selfservice.analyzer import Analyzer, Script, Word
from core.selfservice.faq import Faq


@dataclass(frozen=True, slots=True)
class Asking:
    """One way an entry is asked (its question or a phrasing, in one language)."""

    entry: int  # the entry's position in the FAQ
    language: str
    words: tuple[frozenset[str], ...]  # the terms of each content word
    weights: tuple[float, ...]
    concepts: tuple[frozenset[int], ...]
    stems: tuple[frozenset[str], ...]
    total: float  # the sum of `weights`
    every_term: frozenset[str]  # all its words' terms and stems, to skip it at once
    every_concept: frozenset[int]


class FaqIndex:
    def __init__(self, faq: Faq, analyzer: Analyzer) -> None:
        self.faq = faq
        self.analyzer = analyzer
        self.filler = self._lexicon_lemmas(lexicon.FILLER)
        self.incidents = self._lexicon_terms(lexicon.INCIDENTS)
        self.concepts = self._concepts()
        self.entry_terms: list[set[str]] = [set() for _ in faq.entries]
        self.entry_concepts: list[set[int]] = [set() for _ in faq.entries]
        self.entry_stems: list[set[str]] = [set() for _ in faq.entries]
        self.askings: list[list[Asking]] = [[] for _ in faq.entries]
        # Which entries have a term / a concept: only those are scored for a message.
        self.by_term: dict[str, set[int]] = defaultdict(set)
        self.by_concept: dict[int, set[int]] = defaultdict(set)
        self._concept_cache: dict[frozenset[str], frozenset[int]] = {}
        self._build()

    # ---- what a word is --------------------------------------------------------------

    def is_filler(self, word: Word) -> bool:
        return word.surface in self.filler or word.lemma in self.filler

    def concepts_of(self, terms: frozenset[str]) -> frozenset[int]:
        found = self._concept_cache.get(terms)
        if found is None:
            found = frozenset(c for t in terms for c in self.concepts.get(t, ()))
            if len(self._concept_cache) < 100_000:
                self._concept_cache[terms] = found
        return found

    def candidates(self, terms: Iterable[str], concepts: Iterable[int]) -> set[int]:
        """The entries that share a term or a concept with a message."""
        found: set[int] = set()
        for term in terms:
            found |= self.by_term.get(term, set())
        for concept in concepts:
            found |= self.by_concept.get(concept, set())
        return found

    def idf(self, terms: Iterable[str]) -> float:
        """The worth of the rarest of `terms` among the entries (0: in none)."""
        return max((self._idf.get(t, 0.0) for t in terms), default=0.0)

    def concept_idf(self, concepts: Iterable[int]) -> float:
        return max((self._concept_idf.get(c, 0.0) for c in concepts), default=0.0)

    @property
    def unknown_weight(self) -> float:
        """The worth of a word no entry has: as much as a word only one entry has."""
        return math.log(1 + max(len(self.faq), 1))

    # ---- building ----------------------------------------------------------------------

    def _lexicon_lemmas(self, words: str) -> frozenset[str]:
        analyzed = self.analyzer.words(words)
        return frozenset(w.lemma for w in analyzed) | frozenset(w.surface for w in analyzed)

    def _lexicon_terms(self, words: str) -> frozenset[str]:
        """Lemmas of Cyrillic words, the word and its stem of Latin ones (not what a
        Latin word would be as translit: "delay" is not "делать")."""
        return frozenset(t for w in self.analyzer.words(words) for t in w.terms
                         if t in (w.lemma, w.surface) or (w.script is Script.LATIN
                                                          and t.isascii()))

    def _concepts(self) -> dict[str, set[int]]:
        concepts: dict[str, set[int]] = defaultdict(set)
        for number, group in enumerate(lexicon.CONCEPTS):
            for word in self.analyzer.words(group):
                for term in {word.lemma, word.surface, *self._stems(word)}:
                    concepts[term].add(number)
        return dict(concepts)

    def _stems(self, word: Word) -> set[str]:
        """The English stem of a Latin word (its terms besides itself and translit)."""
        if word.script is not Script.LATIN:
            return set()
        return {t for t in word.terms if t.isascii()}

    def _build(self) -> None:
        raw: list[tuple[int, str, list[Word]]] = []
        for number, entry in enumerate(self.faq.entries):
            for language, text in entry.texts.items():
                for asking in text.askings:
                    words = [w for w in self.analyzer.words(asking) if not self.is_filler(w)]
                    raw.append((number, language, words))
                    for word in words:
                        self.entry_terms[number] |= self.terms_of(word)
                        self.entry_concepts[number] |= self.concepts_of(word.terms)
                        if not word.negated:
                            self.entry_stems[number] |= word.stems
        for number, (terms, concepts) in enumerate(zip(self.entry_terms,
                                                       self.entry_concepts, strict=True)):
            for term in terms | self.entry_stems[number]:
                self.by_term[term].add(number)
            for concept in concepts:
                self.by_concept[concept].add(number)
        self._weigh()
        for number, language, words in raw:
            asked = tuple(self.terms_of(w) for w in words)
            weights = tuple(max(self.idf(t), 0.1) for t in asked)
            groups = tuple(self.concepts_of(t) for t in asked)
            stems = tuple(frozenset() if w.negated else w.stems for w in words)
            self.askings[number].append(Asking(
                number, language, asked, weights, groups, stems, sum(weights),
                frozenset().union(*asked, *stems), frozenset().union(*groups)))

    @staticmethod
    def terms_of(word: Word) -> frozenset[str]:
        """A word's terms; a negated word's are its own ("не работает" ≠ "работает")."""
        if word.negated:
            return frozenset(f"не:{t}" for t in word.terms)
        return word.terms

    def _weigh(self) -> None:
        n = max(len(self.faq), 1)
        df: dict[str, int] = defaultdict(int)
        cdf: dict[int, int] = defaultdict(int)
        for terms, concepts in zip(self.entry_terms, self.entry_concepts, strict=True):
            for term in terms:
                df[term] += 1
            for concept in concepts:
                cdf[concept] += 1
        self._idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self._concept_idf = {c: math.log(1 + n / k) for c, k in cdf.items()}
        self.vocabulary = {Script.CYRILLIC: self._surfaces(Script.CYRILLIC),
                           Script.LATIN: self._surfaces(Script.LATIN)}

    def _surfaces(self, script: Script) -> dict[str, Word]:
        """Every word form the FAQ and the lexicon use, for correcting typos."""
        texts = [a for e in self.faq.entries for t in e.texts.values() for a in t.askings]
        texts += [lexicon.FILLER, *lexicon.CONCEPTS]
        found: dict[str, Word] = {}
        for text in texts:
            for word in self.analyzer.words(text):
                if word.script is script and len(word.surface) >= 3:
                    found.setdefault(word.surface, word)
                    if script is Script.CYRILLIC:
                        found.setdefault(word.lemma, word)
        return found

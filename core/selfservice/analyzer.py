"""Messenger text → words with their terms: Russian lemmas (pymorphy3), English stems
(Snowball), Russian typed in Latin letters read back (translit), negations marked.

A term is what two texts must share to be about the same thing: `парковка` for
"парковку", "парковки"; `book` for "booking", "books". A word may have several (an
ambiguous form, a Latin word that may be English or translit): it matches on any. The
analyzer is loaded once per process (the Russian dictionary takes ~0.3 s and ~25 MB) and
remembers every word it has analyzed, so a message costs its new words only.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

import pymorphy3
import snowballstemmer

from core.selfservice import translit

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
# Spellings that split one thing into words, or one word into two ("wi-fi", "вай фай").
_JOINED = (
    (re.compile(r"\bwi[\s\-]?fi\b"), "wifi"),
    (re.compile(r"\bвай[\s\-]?фай\b"), "вайфай"),
    (re.compile(r"\b24\s*/\s*7\b"), "24x7"),
    (re.compile(r"\be-?mail\b"), "email"),
    # Question frames that ask for a time: one word, so that they count ("до скольки вы
    # работаете" asks when, not whether).
    (re.compile(r"\b(?:до|во|к|со?)\s+скольк\w*"), "когда"),
    (re.compile(r"\b(?:do|vo|k|so?)\s+skol'?k\w*"), "когда"),
    (re.compile(r"\b(?:what\s+time|how\s+late|how\s+early|till\s+when|until\s+when)\b"),
     "when"),
)
_NEGATIONS = frozenset({
    "не", "нет", "ни", "not", "no", "never", "dont", "doesnt", "didnt", "isnt", "arent",
    "wasnt", "werent", "hasnt", "havent", "hadnt", "cant", "cannot", "wont", "couldnt",
    "wouldnt", "shouldnt", "aint",
})
_MIN_PARSE_SCORE = 0.1
_CACHE_LIMIT = 200_000
_MIN_STEM = 4  # shorter stems join unrelated words ("стоить" → "сто")


class Script(StrEnum):
    CYRILLIC = "cyr"
    LATIN = "lat"
    NUMBER = "num"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a text, analyzed."""

    surface: str  # lower case, ё → е
    lemma: str  # the likeliest reading: its lemma (Cyrillic, translit) or the word itself
    terms: frozenset[str]
    script: Script
    known: bool  # a dictionary word (Cyrillic, or Latin read as Russian)
    pos: str | None = None  # pymorphy3's part of speech, for Cyrillic words
    translit: bool = False  # Latin letters read as a Russian word
    negated: bool = False  # right after "не", "not", "doesn't"…
    # Russian stems of its lemmas ("оплат" for "оплата" and "оплатить"): words of one
    # root meet, less surely than one word.
    stems: frozenset[str] = frozenset()


def normalize(text: str) -> str:
    """Lower case, ё → е, compatibility forms folded, joined spellings unified."""
    value = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    for pattern, joined in _JOINED:
        value = pattern.sub(joined, value)
    return value


def _script(word: str) -> Script:
    if word.isdigit():
        return Script.NUMBER
    if any("а" <= c <= "я" for c in word):
        return Script.CYRILLIC
    if any("a" <= c <= "z" for c in word):
        return Script.LATIN
    return Script.OTHER


class Analyzer:
    def __init__(self) -> None:
        self._morph = pymorphy3.MorphAnalyzer()
        self._english = snowballstemmer.stemmer("english")
        self._russian = snowballstemmer.stemmer("russian")
        self._cache: dict[str, Word] = {}

    def words(self, text: str) -> list[Word]:
        """The words of `text`, each analyzed; a negation marks the word after it."""
        out: list[Word] = []
        negate = False
        for raw in _WORD.findall(normalize(text)):
            surface = raw.replace("’", "").replace("'", "")
            if surface in _NEGATIONS:
                negate = True
                if surface == "нет" and out:  # "документов нет": what is missing comes first
                    out[-1] = dataclasses.replace(out[-1], negated=True)
                continue
            word = self.word(surface)
            if negate:
                word = dataclasses.replace(word, negated=True)
                negate = False
            out.append(word)
        return out

    def word(self, surface: str) -> Word:
        cached = self._cache.get(surface)
        if cached is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[surface] = self._analyze(surface)
        return cached

    def lemmas(self, word: str) -> frozenset[str]:
        """The normal forms of a Russian word form (every likely reading)."""
        return self.word(word).terms

    def _analyze(self, surface: str) -> Word:
        script = _script(surface)
        if script is Script.CYRILLIC:
            return self._cyrillic(surface)
        if script is Script.LATIN:
            return self._latin(surface)
        return Word(surface, surface, frozenset({surface}), script,
                    known=script is Script.NUMBER)

    def _cyrillic(self, surface: str) -> Word:
        parses = self._morph.parse(surface)
        best = parses[0].score if parses else 0.0
        lemmas = {p.normal_form.replace("ё", "е") for p in parses[:4]
                  if p.score >= min(_MIN_PARSE_SCORE, best)}
        lemmas.add(surface)
        pos = str(parses[0].tag.POS) if parses and parses[0].tag.POS else None
        lemma = parses[0].normal_form.replace("ё", "е") if parses else surface
        stems = frozenset(stem for stem in self._russian.stemWords(sorted(lemmas))
                          if len(stem) >= _MIN_STEM)
        return Word(surface, lemma, frozenset(lemmas), Script.CYRILLIC,
                    known=self._morph.word_is_known(surface), pos=pos, stems=stems)

    def _latin(self, surface: str) -> Word:
        terms = {surface, self._english.stemWord(surface)}
        spellings = translit.candidates(surface)
        known = self._as_russian(spellings)
        if not known:
            # Slang the dictionary lacks ("vaifaya"): its likeliest spelling, whose guessed
            # lemma meets the same slang written in Cyrillic.
            guess = self._cyrillic(spellings[0])
            return Word(surface, surface, frozenset(terms | guess.terms), Script.LATIN,
                        known=False)
        stems: frozenset[str] = frozenset()
        for russian in known:
            terms |= russian.terms
            stems |= russian.stems
        return Word(surface, known[0].lemma, frozenset(terms), Script.LATIN, known=True,
                    pos=known[0].pos, translit=True, stems=stems)

    def _as_russian(self, spellings: list[str]) -> list[Word]:
        """The Russian words a Latin spelling may stand for, as far as the dictionary knows
        (translit often drops the soft sign at the end: "otmenit" → "отменить"; "bron" is
        both a rare word and "бронь": both kept)."""
        found: list[Word] = []
        softened = [s + "ь" for s in spellings if s[-1] in "тлнсдрзц"]
        for spelling in [*spellings, *softened]:
            if self._morph.word_is_known(spelling):
                found.append(self._cyrillic(spelling))
                if len(found) == 2:
                    break
        return found

"""Russian typed in Latin letters (`skolko stoit abonement`) back to Cyrillic.

Messenger translit has no standard: `ya`/`ja`, `sh`/`sch`, `y` for ы or й, `c` for ц or к,
`'` for ь. `candidates` spells a word every likely way (a handful, most likely first); the
analyzer keeps the first one the Russian dictionary knows.
"""

from __future__ import annotations

from itertools import product

# Longest first: `shch` before `sh` before `s`.
_MULTI = (
    ("shch", ("щ",)), ("sch", ("щ", "сч")), ("zh", ("ж",)), ("kh", ("х",)), ("ch", ("ч",)),
    ("sh", ("ш",)), ("ts", ("ц", "тс")), ("tz", ("ц",)), ("ya", ("я",)), ("ja", ("я",)),
    ("yu", ("ю",)), ("ju", ("ю",)), ("yo", ("е",)), ("jo", ("е",)), ("ye", ("е",)),
    ("yi", ("ый", "ий")), ("iy", ("ий",)), ("yj", ("ый",)), ("ij", ("ий",)),
    ("oi", ("ой", "ои")), ("ei", ("ей", "еи")), ("ai", ("ай", "аи")), ("ui", ("уй", "уи")),
    ("ph", ("ф",)), ("ck", ("к",)),
)
_SINGLE = {
    "a": ("а",), "b": ("б",), "v": ("в",), "g": ("г",), "d": ("д",), "e": ("е", "э"),
    "z": ("з",), "i": ("и", "й"), "k": ("к",), "l": ("л",), "m": ("м",), "n": ("н",),
    "o": ("о",), "p": ("п",), "r": ("р",), "s": ("с",), "t": ("т",), "u": ("у",),
    "f": ("ф",), "h": ("х",), "c": ("ц", "к", "с"), "w": ("в",), "x": ("кс",),
    "q": ("к",), "j": ("й",), "y": ("ы", "й", "и"), "'": ("ь",), "`": ("ь",),
}
MAX_CANDIDATES = 8


def _pieces(word: str) -> list[tuple[str, ...]]:
    pieces: list[tuple[str, ...]] = []
    i = 0
    while i < len(word):
        for latin, cyrillic in _MULTI:
            if word.startswith(latin, i):
                pieces.append(cyrillic)
                i += len(latin)
                break
        else:
            pieces.append(_SINGLE.get(word[i], ("",)))
            i += 1
    return pieces


def candidates(word: str) -> list[str]:
    """Cyrillic spellings of a lower-case Latin word, the most likely first (at most
    MAX_CANDIDATES: each ambiguous letter multiplies them)."""
    pieces = _pieces(word)
    out: list[str] = []
    for combo in product(*pieces):
        out.append("".join(combo))
        if len(out) >= MAX_CANDIDATES:
            break
    return out

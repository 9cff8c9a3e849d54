"""A large FAQ for the speed benchmark: the two labelled FAQs plus generated entries (kept
apart from bench.report, so the memory probe's process imports nothing else)."""

from __future__ import annotations

import random

from bench.faq import HERE, load_faq
from core.selfservice.faq import Faq, FaqEntry, FaqText

RU_TEMPLATES = ("Сколько стоит {a} {b}?", "Как заказать {a}?", "Можно ли {a} с {b}?",
                "Есть ли у вас {a}?", "Где найти {a} и {b}?", "Когда будет {a}?")
EN_TEMPLATES = ("How much is the {a} {b}?", "How do I order a {a}?", "Can I get {a} with {b}?",
                "Do you have {a}?", "Where is the {a} and the {b}?", "When is the {a}?")


def _words(faq: Faq, language: str) -> list[str]:
    found: set[str] = set()
    for entry in faq.entries:
        text = entry.texts.get(language)
        if text:
            for asking in text.askings:
                found |= {w.strip("?,.!«»\"").lower() for w in asking.split() if len(w) > 3}
    return sorted(found)


def big_faq(size: int, seed: int = 7) -> Faq:
    real = [*load_faq(HERE / "coworking.yaml").entries, *load_faq(HERE / "flowers.yaml").entries]
    base = Faq(real)
    ru, en = _words(base, "ru"), _words(base, "en")
    rng = random.Random(seed)
    entries = list(real)
    for number in range(size - len(real)):
        def asked(templates: tuple[str, ...], words: list[str]) -> list[str]:
            return [t.format(a=rng.choice(words), b=rng.choice(words))
                    for t in rng.sample(templates, 3)]

        ru_askings, en_askings = asked(RU_TEMPLATES, ru), asked(EN_TEMPLATES, en)
        entries.append(FaqEntry(f"generated_{number}", {
            "ru": FaqText(ru_askings[0], "Ответ.", tuple(ru_askings[1:])),
            "en": FaqText(en_askings[0], "Answer.", tuple(en_askings[1:]))}))
    return Faq(entries)

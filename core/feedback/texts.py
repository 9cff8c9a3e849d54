"""What the survey says to customers, per language: Russian and English shipped, any key
overridable per language in config (`csat.texts`), like the acknowledgement texts. A
language without a text of its own speaks English."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "question": "How did we do? Rate our answer from 1 to 5.",
        "ask_comment": "What could we do better? Write it in one message.",
        "thanks": "Thank you for your rating!",
        "comment_thanks": "Thank you, we will pass it on to the team.",
        "press_expired": "This survey has expired",
        "press_again": "You have rated it already",
        "press_done": "Thank you!",
    },
    "ru": {
        "question": "Как мы справились? Оцените ответ от 1 до 5.",
        "ask_comment": "Что нам сделать лучше? Напишите одним сообщением.",
        "thanks": "Спасибо за оценку!",
        "comment_thanks": "Спасибо, передадим команде.",
        "press_expired": "Опрос уже закрыт",
        "press_again": "Вы уже поставили оценку",
        "press_done": "Спасибо!",
    },
}
KEYS = frozenset(DEFAULTS["en"])


class SurveyTexts:
    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._texts = {lang: dict(texts) for lang, texts in DEFAULTS.items()}
        for lang, texts in (overrides or {}).items():
            self._texts.setdefault(lang, {}).update(texts)

    def get(self, key: str, language: str | None) -> str:
        """The text in `language` (`pt-br` reads `pt`), else English; plain text."""
        base = (language or "").split("-")[0].lower()
        own = self._texts.get(base, {})
        return own.get(key) or self._texts["en"][key]

"""What the bot says to customers, per language: Russian and English shipped, any key
overridable per language in config (`selfservice.texts`). A language without a text of its
own speaks English. In every language the buttons start with ✅ and 🙋, so customers and
scripts recognise them."""

from __future__ import annotations

from collections.abc import Mapping

HELPED_MARK = "✅"
PERSON_MARK = "🙋"

DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "helped_button": "✅ That helped",
        "person_button": "🙋 Talk to a person",
        "greeting": "Hello! Ask your question: I'll answer right away, or pass it to a "
        "person.",
        "thanks": "You're welcome! Write if anything else comes up.",
        "ack": "👍 If you have a question, just write it here.",
        "bye": "Goodbye! Write any time.",
        "helped": "Glad it helped! Write any time if you have another question.",
        "handing_over": "🙋 I'm passing this to a person: they will answer here.",
        "press_done": "Done",
        "press_with_person": "A person is already on it",
        "press_closed": "This conversation is closed: just write your question",
    },
    "ru": {
        "helped_button": "✅ Помогло",
        "person_button": "🙋 Позвать человека",
        "greeting": "Здравствуйте! Задайте вопрос: отвечу сразу или передам человеку.",
        "thanks": "Пожалуйста! Если появятся вопросы — пишите.",
        "ack": "👍 Если есть вопрос — просто напишите его здесь.",
        "bye": "До свидания! Пишите в любое время.",
        "helped": "Рад, что помог! Если появится другой вопрос — пишите.",
        "handing_over": "🙋 Передаю ваш вопрос человеку: ответ придёт сюда.",
        "press_done": "Готово",
        "press_with_person": "Вашим вопросом уже занимается человек",
        "press_closed": "Этот разговор закрыт: просто напишите ваш вопрос",
    },
}
KEYS = frozenset(DEFAULTS["en"])


class CustomerTexts:
    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._texts = {lang: dict(texts) for lang, texts in DEFAULTS.items()}
        for lang, texts in (overrides or {}).items():
            self._texts.setdefault(lang, {}).update(texts)

    def get(self, key: str, language: str | None) -> str:
        """The text in `language`, else in English (plain text: escape it for HTML)."""
        own = self._texts.get(language or "", {})
        return own.get(key) or self._texts["en"][key]


def check_buttons(language: str, texts: Mapping[str, str]) -> str | None:
    """What is wrong with a language's button labels (None: nothing)."""
    helped, person = texts.get("helped_button"), texts.get("person_button")
    if helped is not None and not helped.startswith(HELPED_MARK):
        return f"helped_button must start with {HELPED_MARK}"
    if person is not None and not person.startswith(PERSON_MARK):
        return f"person_button must start with {PERSON_MARK}"
    return None

"""What customers and operators read about departments."""

from __future__ import annotations

from core.texts import render

QUESTION = {
    "ru": "Здравствуйте! Выберите, пожалуйста, с чем вам помочь:",
    "en": "Hello! Please choose who can help you:",
}
ROUTED = {
    "ru": "Спасибо! Ваш вопрос передан: {name}. Оператор скоро ответит.",
    "en": "Thank you! Your question is with {name}. An operator will answer soon.",
}
TRANSFERRED = {
    "ru": "Ваш вопрос передан: {name}. Ответ придёт сюда же.",
    "en": "Your question has been passed to {name}; they will answer here.",
}
PRESS_LATE = {"ru": "Вопрос уже передан.", "en": "Your question is already with us."}
WHY = {
    "chosen": "chosen by the customer",
    "default": "the customer did not choose in time: the default department",
    "faq": "the FAQ entry that handed over",
    "start": "the default department",
}


def customer_text(table: dict[str, str], language: str | None, **values: str) -> str:
    base = (language or "").split("-")[0].lower()
    return (table.get(base) or table["en"]).format(**values)


def context_html(name: str, why: str) -> str:
    """The first post of a routed conversation, for operators."""
    return render("_department_context", name=name, why=WHY[why])

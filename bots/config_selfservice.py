"""config.yaml's `faq:` list (its shape is fixed: admins and the docs rely on it) and the
`selfservice:` section (how the bot uses it). Turned into the core's `Faq` by `faq_of`.

```yaml
faq:
  - id: opening_hours
    ru: {question: "…", phrasings: ["…"], answer: "…"}
    en: {question: "…", answer: "…"}
selfservice: {bot: true, default_language: ru, texts: {en: {helped_button: "✅ …"}}}
```
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from bots.config_errors import issue
from bots.config_types import Section
from core.selfservice.faq import Faq, FaqEntry, FaqText
from core.selfservice.texts import KEYS, check_buttons

# One message on every channel: Telegram's 4096 characters (UTF-16 units), less a margin.
ANSWER_LIMIT = 4000
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")
ID_HINT = "a slug: lower-case letters, digits, _ and -, e.g. opening_hours"
LANGUAGE_HINT = ("an entry has an `id` and a text per language code (ru, en, de, pt-br…), "
                 "each with question, answer and optional phrasings")


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _not_blank(value: str, what: str) -> str:
    if not value.strip():
        raise issue(f"{what} is empty", f"write the {what} people will read")
    return value


class FaqTextConfig(Section):
    """An entry in one language."""

    question: str
    phrasings: list[str] = []
    answer: str

    @field_validator("question")
    @classmethod
    def _check_question(cls, value: str) -> str:
        return _not_blank(value, "question")

    @field_validator("answer")
    @classmethod
    def _check_answer(cls, value: str) -> str:
        _not_blank(value, "answer")
        if _utf16(value) > ANSWER_LIMIT:
            raise issue(f"too long for one message ({_utf16(value)} characters, at most "
                        f"{ANSWER_LIMIT})", "shorten it, or link to a page with the details")
        return value

    @field_validator("phrasings")
    @classmethod
    def _check_phrasings(cls, value: list[str]) -> list[str]:
        for number, phrasing in enumerate(value):
            if not phrasing.strip():
                raise issue(f"phrasing {number + 1} is empty",
                            "remove it, or write another way customers ask this")
        return value


class FaqEntryConfig(Section):
    """One FAQ entry: `id`, then one text per language code."""

    model_config = {**Section.model_config, "extra": "allow"}
    __pydantic_extra__: dict[str, FaqTextConfig] = Field(init=False)  # type: ignore[assignment]

    id: str
    # The department (core/departments) a hand-over after this entry goes to.
    department: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in ("id", "department") and not (
                        isinstance(key, str) and LANGUAGE.match(key)):
                    raise issue(f"unknown key {key!r}: not a language code", LANGUAGE_HINT)
            if not any(key not in ("id", "department") for key in data):
                raise issue("has no language", "add e.g. `en: {question: …, answer: …}`")
        return data

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise issue(f"{value!r} is not a valid id", ID_HINT)
        return value

    @property
    def texts(self) -> dict[str, FaqTextConfig]:
        return dict(self.__pydantic_extra__ or {})


class SelfServiceConfig(Section):
    """How the bot uses the FAQ."""

    # Answer customers first (false: the FAQ is only for operators' /faq).
    bot: bool = True
    # The customer's language when neither the platform nor their text tells.
    default_language: str | None = None
    # Texts to customers per language, over the shipped Russian and English ones.
    texts: dict[str, dict[str, str]] = {}

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str | None) -> str | None:
        if value is not None and not LANGUAGE.match(value):
            raise issue(f"{value!r} is not a language code", "e.g. ru or en")
        return value

    @field_validator("texts")
    @classmethod
    def _check_texts(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for language, texts in value.items():
            unknown = sorted(set(texts) - KEYS)
            if unknown:
                raise issue(f"{language}: unknown text {unknown[0]!r}",
                            f"the texts are {', '.join(sorted(KEYS))}")
            wrong = check_buttons(language, texts)
            if wrong:
                raise issue(f"{language}: {wrong}", "customers and scripts look for the mark")
        return value


def check_unique_ids(entries: list[FaqEntryConfig]) -> None:
    """Two entries with one id: the later one's path is named."""
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries):
        if entry.id in seen:
            raise issue(f"duplicate id {entry.id!r}: faq[{seen[entry.id]}] and faq[{number}]",
                        "every entry needs its own id")
        seen[entry.id] = number


def faq_of(entries: list[FaqEntryConfig]) -> Faq:
    return Faq(FaqEntry(e.id, {
        language: FaqText(text.question.strip(), text.answer.strip(),
                          tuple(p.strip() for p in text.phrasings))
        for language, text in e.texts.items()}, e.department) for e in entries)

"""The canned replies of config.yaml: a name → a jinja2 template per language (sandboxed,
strict undefined: a misspelt variable is an error, never an empty gap). Texts are plain
(sent as the operator's own text), so nothing is HTML-escaped.

A template may use `customer.first_name`, `operator.first_name`, `conversation.number`
and `next_opening` (when the desk next opens; now, during working hours). `check` renders
every template with sample values, so `relaydesk check` reports an error before start.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from jinja2 import StrictUndefined, Template, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

_env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
PREVIEW_WORDS = 6


class CannedError(ValueError):
    """A template that can't be compiled or rendered; the message says why."""


@dataclass(frozen=True, slots=True)
class Person:
    first_name: str


@dataclass(frozen=True, slots=True)
class Number:
    number: int


@dataclass(frozen=True, slots=True)
class Values:
    """What a template may use."""

    customer: Person
    operator: Person
    conversation: Number
    next_opening: str

    def as_dict(self) -> dict[str, object]:
        return {"customer": self.customer, "operator": self.operator,
                "conversation": self.conversation, "next_opening": self.next_opening}


SAMPLE = Values(Person("Anna"), Person("Olga"), Number(42),
                datetime(2026, 1, 5, 9, 0, tzinfo=UTC).strftime("%H:%M %d.%m"))


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    """Compiling costs ~1 ms; the configured texts are few and fixed."""
    return _env.from_string(source)


def render(source: str, values: Values) -> str:
    try:
        return _compiled(source).render(**values.as_dict()).strip()
    except TemplateError as exc:
        raise CannedError(_why(exc)) from None


def check(source: str) -> None:
    """Raise CannedError when the template fails with sample values, or renders empty."""
    if not render(source, SAMPLE):
        raise CannedError("renders as an empty text")


def _why(exc: TemplateError) -> str:
    line = getattr(exc, "lineno", None)
    where = f" (line {line})" if line else ""
    # jinja2 names our value classes by module path: "'core.canned.templates.Person object'".
    message = re.sub(r"'[\w.]*\.(\w+) object'", r"\1", str(exc.message or exc))
    kind = "unknown variable" if isinstance(exc, UndefinedError) else "syntax error"
    return f"{kind}: {message}{where}"


class CannedReplies:
    """name → language → template source, in config order."""

    def __init__(self, replies: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._replies = {name: dict(texts) for name, texts in (replies or {}).items()}

    def __bool__(self) -> bool:
        return bool(self._replies)

    def names(self) -> list[str]:
        return list(self._replies)

    def get(self, name: str) -> dict[str, str] | None:
        return self._replies.get(name) or self._replies.get(name.lower())

    def preview(self, name: str) -> str:
        """The first words of the reply's first language, variables as written."""
        texts = self._replies[name]
        words = next(iter(texts.values())).split()
        cut = " ".join(words[:PREVIEW_WORDS])
        return cut + ("…" if len(words) > PREVIEW_WORDS else "")

"""config.yaml's after-the-answer sections: `csat` (the satisfaction survey), `canned`
(canned replies for `/t`) and `abuse` (flood and bans).

```yaml
csat: {enabled: true, expires: 24h, comment_wait: 10m, texts: {en: {question: "…"}}}
canned:
  hello: {en: "Hello {{ customer.first_name }}!", ru: "Здравствуйте, {{ customer.first_name }}!"}
abuse: {enabled: true, max_messages: 20, per: 10s, combine_every: 2s}
```
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from bots.config_errors import issue
from bots.config_types import Duration, Int, Section
from bots.durations import format_duration
from core.abuse.flood import FloodSettings
from core.canned.templates import CannedError, CannedReplies
from core.canned.templates import check as check_canned
from core.feedback.service import CsatSettings
from core.feedback.texts import KEYS as CSAT_KEYS

LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")


def _check_texts(value: dict[str, dict[str, str]], keys: frozenset[str]
                 ) -> dict[str, dict[str, str]]:
    for language, texts in value.items():
        if not LANGUAGE.match(language):
            raise issue(f"{language!r} is not a language code", "e.g. ru or en")
        unknown = sorted(set(texts) - keys)
        if unknown:
            raise issue(f"{language}: unknown text {unknown[0]!r}",
                        f"the texts are {', '.join(sorted(keys))}")
        for key, text in texts.items():
            if not text.strip():
                raise issue(f"{language}.{key} is empty", "write the text customers read")
    return value


class CsatConfig(Section):
    """The survey after an operator closes a conversation."""

    enabled: bool = True
    # How long the rating buttons work; a press later is told the survey has expired.
    expires: Duration = timedelta(hours=24)
    # How long after a rating of 1–3 the customer's next text is taken as the comment.
    comment_wait: Duration = timedelta(minutes=10)
    # Texts to customers per language, over the shipped Russian and English ones.
    texts: dict[str, dict[str, str]] = {}

    @field_validator("texts")
    @classmethod
    def _check_texts(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        return _check_texts(value, CSAT_KEYS)

    @model_validator(mode="after")
    def _check_durations(self) -> CsatConfig:
        for name in ("expires", "comment_wait"):
            if getattr(self, name) <= timedelta(0):
                raise issue("must be longer than zero", "e.g. 24h or 10m", field_name=name)
        return self

    def settings(self) -> CsatSettings:
        return CsatSettings(self.enabled, self.expires, self.comment_wait)


def _check_canned_text(value: str) -> str:
    if not value.strip():
        raise issue("is empty", "write the text the customer gets")
    try:
        check_canned(value)
    except CannedError as exc:
        raise issue(f"the template fails with sample values: {exc}", CANNED_HINT) from None
    return value


CANNED_HINT = ("jinja2; the variables are customer.first_name, operator.first_name, "
               "conversation.number and next_opening, each in double braces")
CannedText = Annotated[str, AfterValidator(_check_canned_text)]
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class CannedReplyConfig(Section):
    """One canned reply: a text per language code (jinja2 templates)."""

    model_config = {**Section.model_config, "extra": "allow"}
    __pydantic_extra__: dict[str, CannedText] = Field(init=False)  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def _check_languages(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if not (isinstance(key, str) and LANGUAGE.match(key)):
                    raise issue(f"unknown key {key!r}: not a language code",
                                "a canned reply has one text per language code: ru, en, …")
            if not data:
                raise issue("has no text", "add e.g. `en: \"Hello!\"`")
        return data

    @property
    def texts(self) -> dict[str, str]:
        return dict(self.__pydantic_extra__ or {})


def check_canned_names(value: Any) -> Any:
    """Names first (before the texts): what operators type after /t."""
    if not isinstance(value, dict):
        return value
    for name in value:
        if not isinstance(name, str) or not NAME.match(name):
            raise issue(f"{name!r} is not a valid name",
                        "what operators type after /t: lower-case letters, digits, _ and -")
    return value


def canned_of(value: dict[str, CannedReplyConfig]) -> CannedReplies:
    return CannedReplies({name: reply.texts for name, reply in value.items()})


class AbuseConfig(Section):
    """Flood protection per sender (bans need no settings)."""

    # Off: every message is relayed on its own, however fast it comes.
    enabled: bool = True
    # More than this many messages from one sender within `per` is a flood: the excess is
    # stored, the sender is told once to slow down, the topic gets it combined.
    max_messages: Int = 20
    per: Duration = timedelta(seconds=10)
    # How often the held excess is posted (one combined post per conversation).
    combine_every: Duration = timedelta(seconds=2)
    # The slow-down notice per language, over the shipped Russian and English ones.
    texts: dict[str, dict[str, str]] = {}

    @field_validator("max_messages")
    @classmethod
    def _check_max(cls, value: int) -> int:
        if value < 1:
            raise issue(f"must be at least 1, got {value}",
                        "a limit no person typing reaches, e.g. 20 (per 10s)")
        return value

    @field_validator("texts")
    @classmethod
    def _check_texts(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        return _check_texts(value, ABUSE_KEYS)

    @model_validator(mode="after")
    def _check_durations(self) -> AbuseConfig:
        for name in ("per", "combine_every"):
            if getattr(self, name) <= timedelta(0):
                raise issue("must be longer than zero", "e.g. 10s or 2s", field_name=name)
        return self

    def settings(self) -> FloodSettings:
        return FloodSettings(self.max_messages, self.per, self.combine_every)

    def slow_down_texts(self) -> dict[str, str]:
        return {language: texts["slow_down"] for language, texts in self.texts.items()
                if "slow_down" in texts}


ABUSE_KEYS = frozenset({"slow_down"})


def feedback_line(csat: CsatConfig, canned: dict[str, CannedReplyConfig],
                  abuse: AbuseConfig) -> str:
    """`relaydesk check`'s summary of the after-the-answer sections."""
    survey = f"survey on (expires {format_duration(csat.expires)})" if csat.enabled \
        else "survey off"
    replies = f"{len(canned)} canned repl{'y' if len(canned) == 1 else 'ies'}"
    if canned:
        replies += f" ({', '.join(canned)})"
    flood = (f"flood limit {abuse.max_messages} per {format_duration(abuse.per)}"
             if abuse.enabled else "flood limit off")
    return f"{survey}, {replies}, {flood}"

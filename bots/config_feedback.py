"""config.yaml's after-the-answer sections: `csat` (the satisfaction survey), `canned`
(canned replies for `/t`) and `abuse` (flood and bans).

```yaml
csat: {enabled: true, expires: 24h, comment_wait: 10m, texts: {en: {question: "…"}}}
```
"""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import field_validator, model_validator

from bots.config_errors import issue
from bots.config_types import Duration, Section
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

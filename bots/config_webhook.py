"""config.yaml's `telegram.webhook:`: how Telegram pushes updates when `telegram.mode` is
`webhook` (the route lives on the shared `http:` server).

```yaml
telegram:
  mode: webhook
  webhook:
    path: /telegram/webhook           # Telegram POSTs to http.public_url + path
    secret: ${TELEGRAM_WEBHOOK_SECRET} # sent back in X-Telegram-Bot-Api-Secret-Token
    max_connections: 40               # parallel requests Telegram may open (1-100)
```
"""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from bots.config_errors import issue
from bots.config_types import Int, Section

SECRET_HINT = ("1-256 characters of A-Z, a-z, 0-9, _ and -; e.g. the output of "
               "`openssl rand -hex 32`, kept in an environment variable")
PATH_HINT = "a path on the http server starting with /, e.g. /telegram/webhook"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")


def url_path(value: str, hint: str) -> str:
    """A route on the http server (the Telegram webhook's, VK's callback)."""
    if not _PATH.fullmatch(value.strip()):
        raise issue(f"must be a URL path, got {value!r}", hint)
    return value.strip()


class TelegramWebhookConfig(Section):
    """The webhook route, the secret Telegram proves itself with, and its parallelism."""

    path: str = "/telegram/webhook"
    secret: SecretStr
    max_connections: Int = Field(default=40, ge=1, le=100)

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return url_path(value, PATH_HINT)

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value().strip()
        if not _SECRET.fullmatch(secret):
            raise issue("is not a valid webhook secret", SECRET_HINT)
        return SecretStr(secret)


def webhook_problem(mode: str, webhook: TelegramWebhookConfig | None) -> Exception | None:
    """`telegram.webhook` is required in webhook mode (the secret has no safe default)."""
    if mode == "webhook" and webhook is None:
        return issue("is required when telegram.mode is webhook",
                     "add telegram.webhook with at least `secret:`", field_name="webhook")
    return None


def public_url_problem(mode: str, has_public_url: bool) -> Exception | None:
    """Telegram needs the address it reaches us at: `http.public_url`."""
    if mode == "webhook" and not has_public_url:
        return issue("webhook mode needs http.listen and http.public_url",
                     "add an `http:` section with public_url, the https address your "
                     "reverse proxy serves (e.g. https://support.example.com)",
                     field_name="http")
    return None

"""config.yaml's `telegram.webhook:`: how Telegram pushes updates when `telegram.mode` is
`webhook` (the route lives on the shared `http:` server). The rules every pushed route
shares (its path, its secret's shape, the sections it needs) are here too; VK's callback
(``bots.config_vk``) uses them.

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
WEBHOOK_HINT = "add telegram.webhook with at least `secret:`"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")


def url_path(value: str, hint: str) -> str:
    """A route on the http server (the Telegram webhook's, VK's callback)."""
    if not _PATH.fullmatch(value.strip()):
        raise issue(f"must be a URL path, got {value!r}", hint)
    return value.strip()


def matched_secret(value: SecretStr, pattern: re.Pattern[str], message: str,
                   hint: str) -> SecretStr:
    """A secret the platform accepts (stripped): `message` when it does not fit `pattern`."""
    secret = value.get_secret_value().strip()
    if not pattern.fullmatch(secret):
        raise issue(message, hint)
    return SecretStr(secret)


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
        return matched_secret(value, _SECRET, "is not a valid webhook secret", SECRET_HINT)


def route_problem(platform: str, push_mode: str, mode: str | None, route: Section | None,
                  hint: str) -> Exception | None:
    """In push mode (`telegram.mode: webhook`, `vk.mode: callback`) the route's section of
    that name is required: its secret has no safe default."""
    if mode == push_mode and route is None:
        return issue(f"is required when {platform}.mode is {push_mode}", hint,
                     field_name=push_mode)
    return None


def public_url_problem(pushed: str, mode: str | None, push_mode: str,
                       has_public_url: bool) -> Exception | None:
    """A platform pushing to us (`pushed`: how the message names its mode) needs the address
    it reaches us at: `http.public_url`."""
    if mode == push_mode and not has_public_url:
        return issue(f"{pushed} needs http.listen and http.public_url",
                     "add an `http:` section with public_url, the https address your "
                     "reverse proxy serves (e.g. https://support.example.com)",
                     field_name="http")
    return None

"""config.yaml's `max:` section: the company's bot in MAX (the MAX Bot API).

```yaml
max:
  enabled: true
  token: ${MAX_TOKEN}                        # from the MAX partner platform; never printed
  api_server: https://platform-api2.max.ru   # the default; platform-api.max.ru is refused
  mode: polling                              # or webhook (needs the http: section)
  webhook: {path: /max/webhook, secret: ${MAX_WEBHOOK_SECRET}}
  rate: {count: 30, per: 1s}                 # every request of the bot shares it
  poll_timeout: 30s
  request_timeout: 30s
  ca_file: /etc/ssl/russian_trusted_root_ca.pem   # the chain of MAX's certificate
```
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from bots.config_errors import issue
from bots.config_types import Duration, RateLimit, Section, api_server_url

TOKEN_HINT = ("the bot's token from the MAX partner platform (business.max.ru → Chat bots → "
              "Integration → Get token); e.g. token: ${MAX_TOKEN}")
SERVER_HINT = "leave the default https://platform-api2.max.ru, or the sandbox emulator's address"
CA_HINT = ("the PEM file of the Russian Trusted Root CA (MAX's certificate chain ends in it), "
           "e.g. /etc/ssl/certs/russian_trusted_root_ca.pem")
SECRET_HINT = "5-256 characters of a-z, A-Z, 0-9, _ and -, e.g. secret: ${MAX_WEBHOOK_SECRET}"
REFUSED_HOSTS = frozenset({"platform-api.max.ru", "botapi.max.ru"})


class MaxWebhookConfig(Section):
    path: str = "/max/webhook"
    secret: SecretStr | None = None

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise issue(f"must be a path starting with /, got {value!r}",
                        "e.g. /max/webhook")
        return value

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if not 5 <= len(secret) <= 256 or not all(c.isalnum() or c in "_-" for c in secret):
            raise issue("is not a secret MAX accepts", SECRET_HINT)
        return value


class MaxConfig(Section):
    """The MAX bot: customers write to it in dialogs."""

    enabled: bool = True
    token: SecretStr | None = None
    api_server: str = "https://platform-api2.max.ru"
    mode: Literal["polling", "webhook"] = "polling"
    webhook: MaxWebhookConfig = MaxWebhookConfig()
    rate: RateLimit = RateLimit(count=30, per=timedelta(seconds=1))
    poll_timeout: Duration = Field(
        default=timedelta(seconds=30), ge=timedelta(0), le=timedelta(seconds=90))
    request_timeout: Duration = Field(
        default=timedelta(seconds=30), ge=timedelta(seconds=1), le=timedelta(minutes=5))
    # The first pause before sending a file MAX is still processing (doubles each time).
    attachment_retry: Duration = Field(default=timedelta(seconds=1), gt=timedelta(0))
    ca_file: str | None = None

    @field_validator("api_server")
    @classmethod
    def _check_api_server(cls, value: str) -> str:
        server, parts = api_server_url(value, "max", SERVER_HINT)
        if (parts.hostname or "") in REFUSED_HOSTS:
            raise issue(f"{parts.hostname} is refused by MAX", SERVER_HINT)
        return server

    @field_validator("ca_file")
    @classmethod
    def _check_ca_file(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        path = os.path.expanduser(value.strip())
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise issue(f"cannot read {path!r}", CA_HINT)
        return path

    @model_validator(mode="after")
    def _check_enabled(self) -> MaxConfig:
        if not self.enabled:
            return self
        token = self.token.get_secret_value().strip() if self.token is not None else ""
        if not token:
            raise issue("is required when max is enabled", TOKEN_HINT, field_name="token")
        if token.startswith("${") or any(w in token.lower() for w in ("your", "example")):
            raise issue("is an example value, not a real bot token", TOKEN_HINT,
                        field_name="token")
        if len(token) < 20 or any(ch.isspace() for ch in token):
            raise issue("does not look like a MAX bot token", TOKEN_HINT, field_name="token")
        if self.mode == "webhook" and self.webhook.secret is None:
            raise issue("webhook mode needs max.webhook.secret (MAX signs every push with "
                        "it)", SECRET_HINT, field_name="webhook")
        return self

    @property
    def secret(self) -> str:
        """The token of an enabled section."""
        assert self.token is not None
        return self.token.get_secret_value().strip()

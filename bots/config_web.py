"""config.yaml's `web:` section: the chat widget on the company's own site (served by the
one HTTP server, `http:`).

```yaml
web:
  secret: ${RELAYDESK_WEB_SECRET}          # signs visitor tokens; 32+ random characters
  allowed_origins: [https://www.example.com]  # the sites that may embed the widget
  title: Support
  color: "#2b6cb0"
```
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from bots.config_errors import issue
from bots.config_types import Duration, Int, Section

SECRET_MIN = 32
SECRET_HINT = ("at least 32 random characters, e.g. the output of `openssl rand -hex 32`; "
               "keep it in an environment variable: secret: ${RELAYDESK_WEB_SECRET}")
ORIGIN_HINT = "a site's origin: scheme://host[:port], e.g. https://www.example.com (no path)"
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class WebLimit(Section):
    """At most `count` requests per `per`."""

    count: Int = Field(ge=1, le=100_000)
    per: Duration = Field(gt=timedelta(0), le=timedelta(days=1))


class WebConfig(Section):
    """The website chat widget."""

    enabled: bool = True
    secret: SecretStr | None = None
    allowed_origins: list[str] = []
    title: str = Field(default="Support", min_length=1, max_length=60)
    color: str = "#2b6cb0"
    # A visitor's text, and an upload (bytes), at most.
    max_text: Int = Field(default=4000, ge=1, le=20_000)
    max_upload: Int = Field(default=10 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024)
    upload_types: list[str] = ["image/png", "image/jpeg", "image/gif", "image/webp",
                               "application/pdf", "text/plain"]
    # Requests and messages of one visitor, and of one client address (new sessions too).
    visitor_rate: WebLimit = WebLimit(count=20, per=timedelta(seconds=10))
    ip_rate: WebLimit = WebLimit(count=120, per=timedelta(minutes=1))
    # Sockets one visitor may hold open at once (tabs).
    max_sockets: Int = Field(default=8, ge=1, le=100)
    poll_wait: Duration = Field(default=timedelta(seconds=25), ge=timedelta(seconds=1),
                                le=timedelta(seconds=60))
    # How often an open page looks for events nobody woke it for (written by another
    # relaydesk process on the same PostgreSQL database).
    recheck: Duration = Field(default=timedelta(seconds=15), ge=timedelta(milliseconds=100),
                              le=timedelta(minutes=10))

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for item in value:
            parts = urlsplit(str(item).strip())
            if parts.scheme not in ("http", "https") or not parts.netloc \
                    or parts.path not in ("", "/") or parts.query or parts.fragment:
                raise issue(f"not an origin: {str(item)[:60]!r}", ORIGIN_HINT)
        return [str(item).strip().rstrip("/").lower() for item in value]

    @field_validator("color")
    @classmethod
    def _check_color(cls, value: str) -> str:
        if not COLOR.match(value.strip()):
            raise issue(f"expected a colour like #2b6cb0, got {value[:20]!r}")
        return value.strip()

    @model_validator(mode="after")
    def _check_secret(self) -> WebConfig:
        if not self.enabled:
            return self
        secret = self.secret.get_secret_value().strip() if self.secret is not None else ""
        if not secret:
            raise issue("is required when web is enabled", SECRET_HINT, field_name="secret")
        if len(secret) < SECRET_MIN or secret.startswith("${"):
            raise issue(f"is too short (at least {SECRET_MIN} characters)", SECRET_HINT,
                        field_name="secret")
        return self

    @property
    def key(self) -> bytes:
        """The secret of an enabled section."""
        assert self.secret is not None
        return self.secret.get_secret_value().strip().encode()

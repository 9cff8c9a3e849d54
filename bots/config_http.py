"""config.yaml's `http:` section: the one HTTP server every web-facing part shares (the
website widget, webhooks, metrics and health checks). Without the section nothing listens.

```yaml
http:
  listen: 127.0.0.1:8080                  # host:port the server binds
  public_url: https://support.example.com # the address browsers and platforms use
  trusted_proxies: [127.0.0.1]            # whose X-Forwarded-For is believed
  metrics_token: ${METRICS_TOKEN}         # optional: /metrics wants "Bearer <token>"
```
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator

from bots.config_errors import issue
from bots.config_types import Section

LISTEN_HINT = "host:port, e.g. 127.0.0.1:8080 (or 0.0.0.0:8080 to listen on every address)"
PUBLIC_URL_HINT = ("the absolute address people and platforms reach relaydesk at, e.g. "
                   "https://support.example.com (behind your reverse proxy)")
PROXY_HINT = "an IP address or network, e.g. 127.0.0.1 or 10.0.0.0/8"


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 hosts in brackets) as (host, port); port 0 takes any free port."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise issue(f"expected host:port, got {value!r}", LISTEN_HINT)
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class HttpConfig(Section):
    """Where the server listens and how the outside world reaches it."""

    listen: str = "127.0.0.1:8080"
    public_url: str | None = None
    trusted_proxies: list[str] = []
    metrics_token: SecretStr | None = None

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        parse_listen(value)
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise issue(f"must be an absolute http(s) URL, got {value!r}", PUBLIC_URL_HINT)
        if parts.query or parts.fragment:
            raise issue("must not carry a query or a fragment", PUBLIC_URL_HINT)
        return value.strip().rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(str(item).strip(), strict=False)
            except ValueError:
                raise issue(f"not an IP address or network: {item!r}", PROXY_HINT) from None
        return [str(item).strip() for item in value]

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_listen(self.listen)

    def url_for(self, path: str) -> str:
        """The public address of `path` (the listen address when no public_url is set)."""
        if self.public_url is not None:
            return self.public_url + "/" + path.lstrip("/")
        host, port = self.host_port
        return f"http://{host}:{port}/" + path.lstrip("/")

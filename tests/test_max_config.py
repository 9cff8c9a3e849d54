"""The `max:` section: defaults, every check with its key path and hint, the token never
printed, the CA file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.max.transport import ssl_context
from tests.config_cases import load, make, only_problem

MAX_TOKEN = "f9LHodD0cOK9nWtQ1Zx-ab7HcV2mS5pR8tY3uI0wE4"


def test_max_section_loads_with_defaults() -> None:
    config = load(make(max={"token": MAX_TOKEN}))
    section = config.max
    assert section is not None and section.enabled
    assert section.api_server == "https://platform-api2.max.ru"
    assert section.mode == "polling"
    assert section.rate.count == 30 and section.rate.per == timedelta(seconds=1)
    assert section.poll_timeout == timedelta(seconds=30)
    assert section.ca_file is None
    assert section.secret == MAX_TOKEN


def test_disabled_max_section_may_stay_empty() -> None:
    config = load(make(max={"enabled": False, "token": ""}))
    assert config.max is not None and not config.max.enabled


@pytest.mark.parametrize(
    ("section", "path", "message"),
    [
        ({}, "max.token", "is required when max is enabled"),
        ({"token": "${MAX_TOKEN}"}, "max.token", ""),
        ({"token": "your-max-bot-token-goes-here"}, "max.token", "is an example value"),
        ({"token": "short"}, "max.token", "does not look like a MAX bot token"),
        ({"token": MAX_TOKEN, "api_server": "platform-api2.max.ru"}, "max.api_server",
         "must be an http:// or https:// URL"),
        ({"token": MAX_TOKEN, "api_server": "https://platform-api.max.ru"}, "max.api_server",
         "is refused by MAX"),
        ({"token": MAX_TOKEN, "mode": "push"}, "max.mode", ""),
        ({"token": MAX_TOKEN, "mode": "webhook"}, "max.webhook", "needs max.webhook.secret"),
        ({"token": MAX_TOKEN, "webhook": {"secret": "a b"}}, "max.webhook.secret",
         "is not a secret MAX accepts"),
        ({"token": MAX_TOKEN, "webhook": {"path": "hook"}}, "max.webhook.path", "starting"),
        ({"token": MAX_TOKEN, "poll_timeout": "2m"}, "max.poll_timeout", ""),
        ({"token": MAX_TOKEN, "rate": {"count": 0, "per": "1s"}}, "max.rate.count", ""),
        ({"token": MAX_TOKEN, "ca_file": "/nonexistent/russian_trusted_root_ca.pem"},
         "max.ca_file", "cannot read"),
        ({"token": MAX_TOKEN, "tokn": "x"}, "max.tokn", ""),
    ],
)
def test_bad_max_section_names_the_key(section: dict[str, Any], path: str,
                                       message: str) -> None:
    found = only_problem(make(max=section))
    assert found.path == path
    assert message in found.message
    assert MAX_TOKEN not in found.render()
    assert found.hint or message == ""


def test_the_ca_file_is_added_to_the_system_trust(tmp_path: Path) -> None:
    import certifi  # a real CA bundle to stand in for the Russian Trusted Root CA

    bundle = tmp_path / "russian_trusted_root_ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    config = load(make(max={"token": MAX_TOKEN, "ca_file": str(bundle)}))
    assert config.max is not None and config.max.ca_file == str(bundle)
    context = ssl_context(config.max.ca_file)
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0

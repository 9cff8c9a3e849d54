"""The `max:` section: defaults, every check with its key path and hint, the token never
printed, the CA file (a TLS emulator with a certificate no system trusts)."""

from __future__ import annotations

import ssl
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.max.transport import ssl_context
from bots.app import StartupError
from sandbox.max import MaxEmulator
from tests.config_cases import load, make, only_problem
from tests.harness import Desk, StartRelay

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


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 no system trusts (as MAX's is for most systems)."""
    cert, key = tmp_path / "max_ca.pem", tmp_path / "max_key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


async def test_an_untrusted_certificate_stops_the_start_until_ca_file_is_set(
    desk: Desk, self_signed: tuple[Path, Path], start_relay: StartRelay
) -> None:
    cert, key = self_signed
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    emu = MaxEmulator()
    bot = emu.add_bot("Support", "max-Tls-Test-Token-0123456789abc")
    await emu.start(ssl_context=served)
    try:
        assert emu.base_url.startswith("https://")
        section = f'max: {{token: "{bot.token}", api_server: "{emu.base_url}", ' \
                  "poll_timeout: 1s"
        with pytest.raises(StartupError, match=r"max\.ca_file: the TLS certificate") as err:
            await start_relay(extra=section + "}")
        assert bot.token not in str(err.value)
        app = await start_relay(extra=section + f', ca_file: "{cert}"}}')
        assert app.services is not None and app.services.max is not None
        ivan = emu.add_user("Ivan")
        emu.user_send(ivan, "over TLS")
        await desk.topic_with("over TLS")
    finally:
        await emu.stop()

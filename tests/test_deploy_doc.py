"""docs/deploy.md's snippets are what the tests ran: the config loads, the systemd unit and
the nginx site parse and agree with it."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bots.config import load_config_text

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
ENV = {"RELAYDESK_DATABASE_URL": "postgres://relaydesk:pw@127.0.0.1:5432/relaydesk",
       "TELEGRAM_BOT_TOKEN": "1234567:AAHk3xY2mQ9rT5vW8zB1cD4eF7gH0iJ3kLm",
       "TELEGRAM_WEBHOOK_SECRET": "0123456789abcdef0123456789abcdef",
       "RELAYDESK_METRICS_TOKEN": "scrape-token", "RELAYDESK_PORT": "8082",
       "VK_GROUP_TOKEN": "vk1.a.Deploy-Doc-Community-Token-0123456789",
       "VK_CALLBACK_SECRET": "vkCallbackSecret42", "VK_CALLBACK_CONFIRMATION": "1a2b3c4d"}


def snippets(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def test_every_snippet_is_checked() -> None:
    fenced = re.findall(r"```(\w+)\n", DOC)
    assert DOC.count("```") == 2 * len(fenced)  # no block without a language
    assert sorted(set(fenced)) == ["ini", "nginx", "sh", "yaml"]


def test_the_config_loads_and_takes_its_port_from_the_unit() -> None:
    (text,) = snippets("yaml")
    config = load_config_text(text, source="deploy.md", env=ENV)
    assert config.storage.kind == "postgres"
    assert config.telegram.mode == "webhook" and config.telegram.webhook is not None
    assert config.http is not None and config.http.host_port == ("127.0.0.1", 8082)
    assert config.http.url_for(config.telegram.webhook.path) == \
        "https://support.example.com/telegram/webhook"


def test_relaydesk_check_accepts_the_config(tmp_path: Path) -> None:
    (text,) = snippets("yaml")
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "bots", "check", "-c", str(path)],
                          cwd=ROOT, env={**ENV, "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for secret in ("TELEGRAM_WEBHOOK_SECRET", "VK_CALLBACK_SECRET", "VK_GROUP_TOKEN"):
        assert ENV[secret] not in done.stdout + done.stderr


def test_the_systemd_unit_runs_relaydesk_sandboxed_on_the_config_port() -> None:
    (text,) = snippets("ini")
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(text)
    service = unit["Service"]
    assert "relaydesk run -c /etc/relaydesk/config.yaml" in service["ExecStart"]
    assert service["Environment"] == "RELAYDESK_PORT=808%i"
    for option in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "ProtectHome"):
        assert option in service
    # Enough time for a clean stop: handling updates, then request_timeout (30s) of sends.
    assert int(service["TimeoutStopSec"]) > 30


def test_the_nginx_site_forwards_to_the_three_processes() -> None:
    (text,) = snippets("nginx")
    assert text.count("{") == text.count("}")
    assert all(line.rstrip().endswith((";", "{", "}")) for line in text.splitlines()
               if line.strip() and not line.strip().startswith("#"))
    ports = sorted(int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+)", text))
    assert ports == [8081, 8082, 8083]  # RELAYDESK_PORT=808%i for instances 1-3
    config = load_config_text(snippets("yaml")[0], source="deploy.md", env=ENV)
    assert config.telegram.webhook is not None
    assert f"location = {config.telegram.webhook.path} " in text
    assert config.vk is not None and config.vk.callback is not None
    assert config.vk.mode == "callback"
    assert f"location = {config.vk.callback.path} " in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text  # the widget's WebSocket
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in text


@pytest.mark.parametrize("command", ["relaydesk migrate -c", "pg_dump", "systemctl restart"])
def test_the_shell_steps_use_real_commands(command: str) -> None:
    assert any(command in snippet for snippet in snippets("sh"))
    if command.startswith("relaydesk"):
        help_text = subprocess.run([sys.executable, "-m", "bots", "--help"], cwd=ROOT,
                                   capture_output=True, text=True, timeout=60,
                                   check=False).stdout
        assert "migrate" in help_text

"""Config loading: the shipped example, every section's checks with their paths and hints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest

from bots.config import check_config_file, load_config
from tests.config_cases import TOKEN, load, make, only_problem, problems

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "config.yaml"


# --- the shipped example ----------------------------------------------------------------------


def test_example_loads_with_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("TELEGRAM_API_SERVER", raising=False)
    config = load_config(EXAMPLE)
    assert config.telegram.token.get_secret_value() == TOKEN
    assert config.telegram.api_server == "https://api.telegram.org"
    assert config.operators.chat_id == -1001234567890
    assert config.operators.admins == [123456789]
    assert config.storage.kind == "sqlite"
    assert config.telegram.limits.group.count == 20
    assert config.telegram.limits.group.per == timedelta(minutes=1)


def test_example_loads_with_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("TELEGRAM_API_SERVER", "http://127.0.0.1:8081/")
    config = load_config(EXAMPLE)
    assert config.telegram.token.get_secret_value().startswith("1000000001:")
    assert config.telegram.api_server == "http://127.0.0.1:8081"


def test_defaults() -> None:
    config = load(make())
    assert config.storage.url == "sqlite://data/relaydesk.sqlite3"
    assert config.telegram.mode == "polling"
    assert config.telegram.poll_timeout == timedelta(seconds=25)
    assert config.telegram.request_timeout == timedelta(seconds=30)
    assert config.telegram.limits.private_chat.per == timedelta(seconds=10)
    assert config.telegram.limits.bot.count == 30
    assert config.operators.admins == []
    assert (config.outbox.max_attempts, config.outbox.workers) == (10, 8)
    assert config.outbox.album_wait == timedelta(seconds=1)
    assert config.outbox.backoff_max == timedelta(minutes=5)
    assert (config.logging.level, config.logging.format) == ("INFO", "text")


def test_models_are_frozen() -> None:
    config = load(make())
    with pytest.raises(pydantic.ValidationError):
        config.operators.chat_id = -1009999999999


# --- storage ------------------------------------------------------------------------------


def test_relative_sqlite_path_is_made_absolute_from_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load(make(storage={"url": "sqlite://db/desk.sqlite3?journal_mode=wal"}))
    assert config.storage.url == "sqlite://db/desk.sqlite3?journal_mode=wal"
    assert config.storage.tortoise_url == f"sqlite://{tmp_path}/db/desk.sqlite3?journal_mode=wal"
    assert not (tmp_path / "db").exists()


@pytest.mark.parametrize(
    ("url", "kind", "tortoise_url"),
    [
        ("sqlite://:memory:", "sqlite", "sqlite://:memory:"),
        ("sqlite:///var/lib/desk.db", "sqlite", "sqlite:///var/lib/desk.db"),
        ("postgresql://u:p@db:5432/desk", "postgres", "postgres://u:p@db:5432/desk"),
        ("postgres://u@db/desk", "postgres", "postgres://u@db/desk"),
        ("asyncpg://u:p@db:5432/desk", "postgres", "asyncpg://u:p@db:5432/desk"),
    ],
)
def test_storage_urls(url: str, kind: str, tortoise_url: str) -> None:
    storage = load(make(storage={"url": url})).storage
    assert storage.kind == kind
    assert storage.tortoise_url == tortoise_url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@db/desk", "unsupported database 'mysql'"),
        ("data/relaydesk.sqlite3", "is not a database URL"),
        ("sqlite://", "a sqlite:// URL needs a file path"),
        ("postgres://u:p@db:port/desk", "the port in the URL must be a number"),
    ],
)
def test_bad_storage_url(url: str, message: str) -> None:
    found = only_problem(make(storage={"url": url}))
    assert found.path == "storage.url"
    assert message in found.message
    assert found.hint is not None
    assert "sqlite://" in found.hint


# --- telegram -----------------------------------------------------------------------------


def test_missing_token_hints_at_botfather_and_sandbox() -> None:
    found = only_problem(
        make(telegram={"api_server": "https://api.telegram.org"}).replace(
            f"  token: {TOKEN}\n", ""
        )
    )
    assert (found.path, found.message) == ("telegram.token", "required key is missing")
    assert found.hint is not None
    assert "@BotFather" in found.hint
    assert "relaydesk sandbox --demo" in found.hint


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "is empty"),
        (None, "is empty"),
        ("123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", "is an example value"),
        ("YOUR_TOKEN", "is an example value"),
        ("123:paste-your-token-here", "is an example value"),
        ("change-me", "is an example value"),
        ("changeme", "is an example value"),
        ("<token>", "is an example value"),
        ("xxx", "is an example value"),
        ("123456789:XXXXXXXXXX", "is an example value"),
        ("not a token", "does not look like a bot token"),
        ("12345:has spaces", "does not look like a bot token"),
        (12345, "expected text"),
    ],
)
def test_bad_token(token: object, message: str) -> None:
    found = only_problem(make(telegram={"token": token}))
    assert found.path == "telegram.token"
    assert message in found.message
    assert found.hint is not None


def test_real_token_containing_a_placeholder_word_is_accepted() -> None:
    token = "7012345678:AAEyourQ3xN9example_k2LmZ0pPlaceHolder1"
    config = load(make(telegram={"token": token}))
    assert config.telegram.token.get_secret_value() == token


def test_token_whitespace_is_trimmed() -> None:
    config = load(make(telegram={"token": f"  {TOKEN}\n"}))
    assert config.telegram.token.get_secret_value() == TOKEN


def test_other_mode_lists_the_choices() -> None:
    found = only_problem(make(telegram={"mode": "push"}))
    assert found.path == "telegram.mode"
    assert found.message == "must be 'polling' or 'webhook', got 'push'"


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("api.telegram.org", "must be an http:// or https:// URL"),
        ("ftp://api.telegram.org", "must be an http:// or https:// URL"),
        ("https://user:pw@/bot-api", "must be an http:// or https:// URL"),  # no host
        (f"https://api.telegram.org/bot{TOKEN}/", "must not contain the bot token"),
    ],
)
def test_bad_api_server(server: str, message: str) -> None:
    found = only_problem(make(telegram={"api_server": server}))
    assert found.path == "telegram.api_server"
    assert message in found.message


@pytest.mark.parametrize(
    ("value", "message"),
    [("0s", "must be at least 1 second"), ("51s", "must be at most 50 seconds")],
)
def test_poll_timeout_range(value: str, message: str) -> None:
    found = only_problem(make(telegram={"poll_timeout": value}))
    assert found.path == "telegram.poll_timeout"
    assert found.message.startswith(message)
    assert found.hint == "Telegram long polling waits between 1s and 50s"


def test_rate_limits_can_be_shrunk_and_are_checked() -> None:
    limits = {"group": {"count": 3, "per": "50ms"}}
    config = load(make(telegram={"limits": limits}))
    assert config.telegram.limits.group.per == timedelta(milliseconds=50)
    assert config.telegram.limits.bot.count == 30

    bad = {"group": {"count": 0, "per": "0s"}, "bot": {"count": 5}}
    found = problems(make(telegram={"limits": bad}))
    assert set(found) == {
        "telegram.limits.group.count",
        "telegram.limits.group.per",
        "telegram.limits.bot.per",
    }
    assert found["telegram.limits.bot.per"].message == "required key is missing"


# --- operators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chat_id", "hint_part"),
    [
        (123456789, "is a user id"),
        (-123456789, "turn on Topics"),
        (-100, "turn on Topics"),
    ],
)
def test_chat_id_must_be_a_supergroup(chat_id: int, hint_part: str) -> None:
    found = only_problem(make(operators={"chat_id": chat_id}))
    assert found.path == "operators.chat_id"
    assert found.message == "must be a supergroup id (starts with -100)"
    assert found.hint is not None
    assert hint_part in found.hint


def test_chat_id_missing_and_not_a_number() -> None:
    found = only_problem(
        make(operators={"admins": [1]}).replace("  chat_id: -1001234567890\n", "")
    )
    assert (found.path, found.message) == ("operators.chat_id", "required key is missing")
    assert found.hint is not None
    assert "-1001234567890" in found.hint

    found = only_problem(make(operators={"chat_id": "my group"}))
    assert found.path == "operators.chat_id"
    assert found.message == "expected a whole number, got 'my group'"


def test_bad_admin_reports_its_index() -> None:
    found = problems(make(operators={"admins": [1, "@bob", 3, -4, True]}))
    assert set(found) == {"operators.admins[1]", "operators.admins[3]", "operators.admins[4]"}
    assert found["operators.admins[1]"].message == "expected a whole number, got '@bob'"
    assert "not @usernames" in (found["operators.admins[1]"].hint or "")
    assert "positive" in found["operators.admins[3]"].message
    assert "true/false" in found["operators.admins[4]"].message


def test_admins_must_be_a_list() -> None:
    found = only_problem(make(operators={"admins": 123}))
    assert (found.path, found.message) == ("operators.admins", "expected a list, got a number")


# --- outbox and logging ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_attempts", 0, "must be at least 1"),
        ("max_attempts", 101, "must be at most 100"),
        ("workers", 65, "must be at most 64"),
        ("workers", 2.5, "expected a whole number"),
        ("backoff_base", "0s", "must be greater than 0"),
        ("album_wait", "soon", "not a duration: 'soon'"),
    ],
)
def test_outbox_values(key: str, value: object, message: str) -> None:
    found = only_problem(make(outbox={key: value}))
    assert found.path == f"outbox.{key}"
    assert found.message.startswith(message)


def test_bad_duration_hint() -> None:
    found = only_problem(make(outbox={"album_wait": "10 parsecs"}))
    assert found.hint == "use a number with a unit: 30s, 15m, 1h, 1d"


def test_backoff_base_must_not_exceed_max() -> None:
    found = only_problem(make(outbox={"backoff_base": "10m", "backoff_max": "1m"}))
    assert found.path == "outbox.backoff_base"
    assert "backoff_max (1m)" in found.message


def test_logging_level_is_case_insensitive() -> None:
    config = load(make(logging={"level": "debug", "format": "JSON"}))
    assert (config.logging.level, config.logging.format) == ("DEBUG", "json")
    found = only_problem(make(logging={"level": "verbose"}))
    assert found.path == "logging.level"
    assert "'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in found.message


# --- check_config_file --------------------------------------------------------------------


def test_check_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "good.yaml"
    good.write_text(make(operators={"admins": [1, 2]}), encoding="utf-8")
    code, output = check_config_file(good)
    assert code == 0
    assert output.splitlines()[0] == f"{good}: OK"
    assert f"sqlite {tmp_path}/data/relaydesk.sqlite3" in output
    assert "chat -1001234567890, 2 admins" in output
    assert "https://api.telegram.org" in output
    assert TOKEN not in output
    assert TOKEN.split(":")[1] not in output

    bad = tmp_path / "bad.yaml"
    bad.write_text(make(operators={"chat_id": 5}), encoding="utf-8")
    code, output = check_config_file(bad)
    assert code == 2
    assert output.startswith(f"{bad}: 1 problem\n")
    assert "operators.chat_id: must be a supergroup id" in output

    code, output = check_config_file(tmp_path / "missing.yaml")
    assert code == 2
    assert "file not found" in output


# --- vk -------------------------------------------------------------------------------------

VK_TOKEN = "vk1.a.Rk2pQ9xZ7mN4bV1cX8zL3kJ6hG5fD0sA"


def test_vk_section_loads_with_defaults() -> None:
    config = load(make(vk={"token": VK_TOKEN, "group_id": 123456}))
    assert config.vk is not None and config.vk.enabled
    assert config.vk.group_id == 123456
    assert config.vk.api_server == "https://api.vk.ru"
    assert config.vk.rate.count == 20 and config.vk.rate.per == timedelta(seconds=1)
    assert config.vk.poll_wait == timedelta(seconds=25)
    assert VK_TOKEN not in repr(config)


def test_disabled_vk_section_may_stay_empty() -> None:
    config = load(make(vk={"enabled": False, "token": "", "group_id": None}))
    assert config.vk is not None and not config.vk.enabled


@pytest.mark.parametrize(
    ("section", "path", "message"),
    [
        ({"group_id": 1}, "vk.token", "is required when vk is enabled"),
        ({"token": "", "group_id": 1}, "vk.token", "is required when vk is enabled"),
        ({"token": "<community token>", "group_id": 1}, "vk.token", "is an example value"),
        ({"token": "short", "group_id": 1}, "vk.token", "does not look like a VK"),
        ({"token": VK_TOKEN}, "vk.group_id", "is required when vk is enabled"),
        ({"token": VK_TOKEN, "group_id": -123}, "vk.group_id", "greater than 0"),
        ({"token": VK_TOKEN, "group_id": 1, "api_server": "api.vk.ru"}, "vk.api_server",
         "must be an http:// or https:// URL"),
        ({"token": VK_TOKEN, "group_id": 1, "api_server": "https://api.vk.ru/method"},
         "vk.api_server", "without /method"),
        ({"token": VK_TOKEN, "group_id": 1, "poll_wait": "2m"}, "vk.poll_wait", ""),
        ({"token": VK_TOKEN, "group_id": 1, "wait": "20s"}, "vk.wait", ""),
    ],
)
def test_bad_vk_section_names_the_key(section: dict[str, Any], path: str, message: str) -> None:
    found = only_problem(make(vk=section))
    assert found.path == path
    assert message in found.message
    assert VK_TOKEN not in found.render()

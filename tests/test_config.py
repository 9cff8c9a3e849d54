"""Config loading: the shipped example, every error with its path and hint, and secrecy."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from bots.config import (
    Config,
    ConfigError,
    ConfigIssue,
    check_config_file,
    load_config,
    load_config_text,
    parse_duration,
)
from bots.config_secrets import echo, redact_url
from bots.durations import DurationError, format_duration

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "config.yaml"
TOKEN = "1234567890:AAHrealLookingSecretPart_abcdefghij123"
BASE: dict[str, Any] = {
    "telegram": {"token": TOKEN},
    "operators": {"chat_id": -1001234567890},
}


def make(**overrides: Any) -> str:
    """BASE with ``section={...}`` merged in (None removes a section), as YAML text."""
    data = copy.deepcopy(BASE)
    for section, value in overrides.items():
        if value is None:
            data.pop(section, None)
        elif isinstance(value, dict) and isinstance(data.get(section), dict):
            data[section].update(value)
        else:
            data[section] = value
    return yaml.safe_dump(data, sort_keys=False)


def load(text: str, env: dict[str, str] | None = None) -> Config:
    return load_config_text(text, env=env or {})


def problems(text: str, env: dict[str, str] | None = None) -> dict[str, ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load(text, env)
    return {item.path: item for item in caught.value.issues}


def only_problem(text: str, env: dict[str, str] | None = None) -> ConfigIssue:
    found = problems(text, env)
    assert len(found) == 1, found
    return next(iter(found.values()))


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


def test_webhook_mode_is_refused_with_a_hint() -> None:
    found = only_problem(make(telegram={"mode": "webhook"}))
    assert (found.path, found.message) == ("telegram.mode", "webhook mode is not supported yet")
    assert found.hint is not None
    assert "polling" in found.hint


def test_other_mode_lists_the_choices() -> None:
    found = only_problem(make(telegram={"mode": "push"}))
    assert found.path == "telegram.mode"
    assert found.message == "must be 'polling', got 'push'"


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("api.telegram.org", "must be an http:// or https:// URL"),
        ("ftp://api.telegram.org", "must be an http:// or https:// URL"),
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


# --- structure ----------------------------------------------------------------------------


def test_unknown_key_suggests_the_closest_and_lists_allowed() -> None:
    found = only_problem(make(telegram={"tokn": "x"}))
    assert (found.path, found.message) == ("telegram.tokn", "unknown key")
    assert found.hint is not None
    assert found.hint.startswith("did you mean 'token'? allowed keys: token, api_server, mode")


def test_unknown_top_level_section() -> None:
    found = only_problem(make(telegramm={"token": "x"}))
    assert found.path == "telegramm"
    assert found.hint is not None
    assert "did you mean 'telegram'?" in found.hint


def test_missing_sections_and_wrong_section_type() -> None:
    found = problems(make(telegram=None, operators=None))
    assert set(found) == {"telegram", "operators"}
    assert found["telegram"].message == "required section is missing"
    assert found["operators"].hint is not None

    found_one = only_problem(make(outbox="fast"))
    assert found_one.path == "outbox"
    assert found_one.message == "expected a section of 'key: value' lines, got text"


def test_all_problems_are_reported_at_once() -> None:
    text = make(
        telegram={"token": "changeme", "tokn": 1, "mode": "webhook"},
        operators={"chat_id": 42, "admins": [1, "x"]},
        logging={"level": "loud"},
    )
    found = problems(text)
    assert set(found) == {
        "telegram.token",
        "telegram.tokn",
        "telegram.mode",
        "operators.chat_id",
        "operators.admins[1]",
        "logging.level",
    }
    assert all(item.hint for path, item in found.items() if path != "logging.level")


def test_render_format_and_line_numbers() -> None:
    text = f"telegram:\n  token: '{TOKEN}'\n  tokn: oops\noperators:\n  chat_id: 42\n"
    with pytest.raises(ConfigError) as caught:
        load(text)
    error = caught.value
    assert error.source == "config.yaml"
    lines = {item.path: item.line for item in error.issues}
    assert lines == {"telegram.tokn": 3, "operators.chat_id": 5}
    rendered = error.render()
    assert rendered.splitlines()[0] == "config.yaml: 2 problems"
    assert "  line 3: telegram.tokn: unknown key\n    hint: did you mean 'token'?" in rendered
    assert "  line 5: operators.chat_id: must be a supergroup id (starts with -100)\n" in rendered
    assert str(error) == rendered


def test_missing_key_points_at_its_section() -> None:
    found = only_problem(f"telegram:\n  token: '{TOKEN}'\noperators:\n  admins: [1]\n")
    assert (found.path, found.line) == ("operators.chat_id", 3)


def test_yaml_syntax_error_has_line_and_column() -> None:
    found = only_problem("telegram:\n  token: [unclosed\noperators: {chat_id: 1}\n")
    assert found.path == ""
    assert found.message.startswith("invalid YAML:")
    assert found.line == 3
    assert found.column is not None
    with pytest.raises(ConfigError) as caught:
        load("a:\n\tb: 1\n")
    issue = caught.value.issues[0]
    assert (issue.line, issue.column) == (2, 1)
    assert issue.hint == "YAML does not allow tabs for indentation; use spaces"
    assert "line 2, column 1: invalid YAML" in caught.value.render()


def test_duplicate_keys_are_errors() -> None:
    text = make() + f"telegram:\n  token: '{TOKEN}'\n"
    found = only_problem(text)
    assert found.path == "telegram"
    assert found.message == "duplicate key (also on line 1)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no settings found"),
        ("# only a comment\n", "no settings found"),
        ("- telegram\n- operators\n", "the top level must be 'key: value' sections, got a list"),
        ("just text\n", "got text"),
    ],
)
def test_file_level_problems(text: str, message: str) -> None:
    found = only_problem(text)
    assert found.path == ""
    assert message in found.message
    assert found.hint is not None


def test_non_text_key() -> None:
    found = only_problem(make() + "logging:\n  yes: 1\n")
    assert found.path == "logging.True"
    assert "not text" in found.message


def test_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert caught.value.source == str(missing)
    assert caught.value.issues[0].message == "file not found"

    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.issues[0].message == "is a directory, not a config file"

    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"telegram: \xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        load_config(binary)
    assert caught.value.issues[0].message.startswith("is not UTF-8 text")


# --- environment interpolation --------------------------------------------------------------


def test_env_interpolation() -> None:
    text = make(
        telegram={"token": "${TOKEN}", "api_server": "${API:-http://127.0.0.1:9000}"},
        operators={"chat_id": "${CHAT}"},
        storage={"url": "postgres://u:pa$$word@${DB_HOST:-db}:5432/desk"},
    )
    config = load(text, env={"TOKEN": TOKEN, "CHAT": "-1001111111111", "DB_HOST": ""})
    assert config.telegram.token.get_secret_value() == TOKEN
    assert config.telegram.api_server == "http://127.0.0.1:9000"
    assert config.operators.chat_id == -1001111111111
    # "$$" is a literal dollar; ":-" also replaces a set-but-empty variable.
    assert config.storage.url == "postgres://u:pa$word@db:5432/desk"


def test_env_value_wins_over_default() -> None:
    text = make(telegram={"api_server": "${API:-http://127.0.0.1:9000}"})
    config = load(text, env={"API": "https://bots.example.org/"})
    assert config.telegram.api_server == "https://bots.example.org"


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYDESK_TEST_TOKEN", TOKEN)
    config = load_config_text(make(telegram={"token": "${RELAYDESK_TEST_TOKEN}"}))
    assert config.telegram.token.get_secret_value() == TOKEN


def test_missing_env_variable() -> None:
    text = "telegram:\n  token: ${BOT_TOKEN}\noperators:\n  chat_id: -1001234567890\n"
    found = only_problem(text)
    assert (found.path, found.line) == ("telegram.token", 2)
    assert found.message == "environment variable BOT_TOKEN is not set"
    assert found.hint is not None
    assert "${BOT_TOKEN:-" in found.hint
    assert "@BotFather" in found.hint


def test_malformed_env_reference() -> None:
    found = only_problem(make(telegram={"api_server": "${API"}))
    assert found.path == "telegram.api_server"
    assert found.message.startswith("malformed environment variable reference")
    assert found.hint is not None
    assert "$$" in found.hint


# --- secrets ------------------------------------------------------------------------------


def test_secret_token_is_never_printed() -> None:
    secret = "98765:this_is_a_secret_value with a space"
    text = make(telegram={"token": secret, "mode": "webhook"})
    with pytest.raises(ConfigError) as caught:
        load(text)
    error = caught.value
    assert "telegram.token" in {item.path for item in error.issues}
    for shown in (error.render(), str(error), repr(error), repr(error.issues)):
        assert "this_is_a_secret_value" not in shown
    assert error.__cause__ is None
    assert error.__context__ is None

    config = load(make())
    for shown in (repr(config), str(config), repr(config.telegram)):
        assert TOKEN not in shown
        assert TOKEN.split(":")[1] not in shown


def test_secret_from_env_is_never_printed() -> None:
    secret = "not-a-valid-token-s3cr3t"
    text = make(telegram={"token": "${BOT_TOKEN}"})
    with pytest.raises(ConfigError) as caught:
        load(text, env={"BOT_TOKEN": secret})
    assert secret not in caught.value.render()


def test_token_pasted_in_the_wrong_place_is_masked() -> None:
    text = make(telegram={"api_server": f"http//api.telegram.org/{TOKEN}"})
    rendered = problems_rendered(text)
    assert "telegram.api_server" in rendered
    assert TOKEN not in rendered


def test_syntax_error_does_not_quote_the_line() -> None:
    text = f"telegram:\n  token: {TOKEN}\n  mode: [polling\n"
    rendered = problems_rendered(text)
    assert "invalid YAML" in rendered
    assert TOKEN not in rendered


def test_database_password_is_never_printed(tmp_path: Path) -> None:
    url = "postgres://desk:hunter2@db.internal:5432/desk?sslpassword=opensesame"
    config = load(make(storage={"url": url}))
    assert config.storage.tortoise_url == url
    for shown in (repr(config), str(config.storage), config.storage.describe()):
        assert "hunter2" not in shown
        assert "opensesame" not in shown

    path = tmp_path / "config.yaml"
    path.write_text(make(storage={"url": url}), encoding="utf-8")
    code, output = check_config_file(path)
    assert code == 0
    assert "postgres db.internal:5432/desk" in output
    assert "hunter2" not in output

    bad = make(storage={"url": "postgres://desk:hunter2@db:notaport/desk"})
    rendered = problems_rendered(bad)
    assert "storage.url" in rendered
    assert "hunter2" not in rendered


def test_malformed_reference_in_a_secret_is_not_quoted() -> None:
    found = only_problem(make(telegram={"token": "1234:abc${s3cr3t"}))
    assert found.path == "telegram.token"
    assert found.message == "malformed environment variable reference"
    assert "s3cr3t" not in problems_rendered(make(telegram={"token": "1234:abc${s3cr3t"}))


@pytest.mark.parametrize(
    ("loc", "value", "shown"),
    [
        (("telegram", "token"), "1234:abcdef", None),
        (("vk", "group_token"), "abc", None),
        (("webhook", "secret"), "abc", None),
        (("db", "password"), "abc", None),
        (("operators", "chat_id"), 42, "42"),
        (("storage", "url"), "postgres://u:pw@h/d", "'postgres://u:***@h/d'"),
        (("telegram", "api_server"), f"x/{TOKEN}", "'x/***'"),
        (("outbox", "album_wait"), timedelta(seconds=90), "1m30s"),
    ],
)
def test_echo_hides_secrets(loc: tuple[str, ...], value: object, shown: str | None) -> None:
    assert echo(loc, value) == shown


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgres://u:p@ss@h:5432/d", "postgres://u:***@h:5432/d"),
        ("postgres://u@h/d", "postgres://u@h/d"),
        ("postgres://h/d?password=x&ssl=true", "postgres://h/d?password=***&ssl=true"),
        ("sqlite://data/a.db", "sqlite://data/a.db"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def problems_rendered(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(text)
    return caught.value.render()


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


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m 5s", timedelta(hours=1, minutes=30, seconds=5)),
        ("1.5h", timedelta(minutes=90)),
        ("2 minutes", timedelta(minutes=2)),
        ("10S", timedelta(seconds=10)),
        ("0s", timedelta(0)),
        ("90", timedelta(seconds=90)),
        ("0.25", timedelta(milliseconds=250)),
        (45, timedelta(seconds=45)),
        (1.5, timedelta(seconds=1.5)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_parse_duration(text: str | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "a duration cannot be empty"),
        ("   ", "a duration cannot be empty"),
        ("soon", "not a duration: 'soon'"),
        ("10x", "not a duration: '10x'"),
        ("1h30", "not a duration: '1h30'"),
        ("s", "not a duration: 's'"),
        ("-5s", "a duration cannot be negative: '-5s'"),
        (-1, "a duration cannot be negative: -1"),
        ("30m1h", "write units from largest to smallest"),
        ("1m1m", "write units from largest to smallest"),
        (True, "expected a duration, got true/false"),
        (float("nan"), "not a duration: nan"),
        (10**30, "duration is too large"),
    ],
)
def test_parse_duration_errors(text: object, reason: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)  # type: ignore[arg-type]
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).endswith("(use a number with a unit: 30s, 15m, 1h, 1d)")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2, seconds=5), "2d5s"),
    ],
)
def test_format_duration_round_trips(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


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

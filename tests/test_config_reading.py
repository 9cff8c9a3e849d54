"""Reading a config file: YAML structure and line numbers, ${VAR} expansion, every problem
reported at once, and secrets never printed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bots.config import ConfigError, check_config_file, load_config, load_config_text
from bots.config_secrets import echo, redact_url
from tests.config_cases import TOKEN, load, make, only_problem, problems

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
        telegram={"token": "changeme", "tokn": 1, "mode": "push"},
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

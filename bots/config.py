"""relaydesk's config: typed, frozen sections loaded from ``config.yaml``.

``load_config`` either returns a complete ``Config`` or raises one ``ConfigError`` listing every
problem with its key path, line and a hint, so a bad edit never half-starts the bot.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from bots.config_env import interpolate
from bots.config_errors import ConfigError, ConfigIssue, kind_of
from bots.config_feedback import feedback_line
from bots.config_models import (
    PATH_HINTS,
    Config,
    LoggingConfig,
    OperatorsConfig,
    RateLimit,
    StorageConfig,
    TelegramConfig,
    TelegramLimits,
)
from bots.config_outbox import OutboxConfig
from bots.config_secrets import redact_url
from bots.config_validation import issues_from_validation
from bots.config_yaml import read_yaml
from bots.durations import format_duration, parse_duration

__all__ = [
    "Config",
    "ConfigError",
    "ConfigIssue",
    "LoggingConfig",
    "OperatorsConfig",
    "OutboxConfig",
    "RateLimit",
    "StorageConfig",
    "TelegramConfig",
    "TelegramLimits",
    "check_config_file",
    "load_config",
    "load_config_text",
    "parse_duration",
]


# --- loading --------------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; raises ConfigError listing every problem."""
    source = os.fspath(path)
    return load_config_text(_read_file(Path(source), source), source=source)


def load_config_text(
    text: str, source: str = "config.yaml", env: Mapping[str, str] | None = None
) -> Config:
    """Validate config text; ``env`` resolves ``${VAR}`` (default: ``os.environ``)."""
    data, lines, issues = read_yaml(text)
    if data is None:
        if not issues:
            issues.append(
                ConfigIssue(
                    "",
                    "no settings found (the file is empty or only has comments)",
                    "start from the example config.yaml; 'telegram:' and 'operators:' "
                    "are required",
                )
            )
        raise ConfigError(issues, source)
    if not isinstance(data, dict):
        raise ConfigError(
            [
                ConfigIssue(
                    "",
                    f"the top level must be 'key: value' sections, got {kind_of(data)}",
                    "start sections like 'telegram:' at the left margin, without '- '",
                    1,
                    1,
                )
            ],
            source,
        )

    interpolated = interpolate(data, os.environ if env is None else env, lines)
    for found in interpolated.issues:
        extra = _path_hint(found.path)
        if extra and found.hint and found.message.startswith("environment variable"):
            found_hint = f"{found.hint}; {extra}"
            issues.append(
                ConfigIssue(found.path, found.message, found_hint, found.line, found.column)
            )
        else:
            issues.append(found)

    config: Config | None = None
    failure: ValidationError | None = None
    try:
        config = Config.model_validate(interpolated.data)
    except ValidationError as exc:
        failure = exc
    # Raised outside the except block so the ValidationError (which quotes input values,
    # secrets included) is never chained into a traceback.
    if failure is not None:
        issues.extend(
            issues_from_validation(failure, Config, lines, _path_hint, interpolated.unresolved)
        )
    if issues or config is None:
        raise ConfigError(issues or [ConfigIssue("", "invalid config")], source)
    return config


def check_config_file(path: str | os.PathLike[str]) -> tuple[int, str]:
    """``relaydesk check``: (0, summary) when the file is usable, else (2, every problem)."""
    source = os.fspath(path)
    try:
        config = load_config(source)
    except ConfigError as exc:
        return 2, exc.render()
    return 0, f"{source}: OK\n{summarize(config)}"


def summarize(config: Config) -> str:
    """What the config points at, without any secret."""
    telegram = config.telegram
    operators = config.operators
    admins = len(operators.admins)
    return "\n".join(
        [
            f"  storage: {config.storage.describe()}",
            f"  telegram: {redact_url(telegram.api_server)} ({telegram.mode})",
            f"  operators: chat {operators.chat_id}, {admins} admin{'' if admins == 1 else 's'}",
            f"  logging: {config.logging.level} ({config.logging.format})",
            f"  service levels: {_service_line(config)}",
            f"  self-service: {_faq_line(config)}",
            f"  departments: {_departments_line(config)}",
            f"  http: {_http_line(config)}",
            f"  after the answer: {feedback_line(config.csat, config.canned, config.abuse)}",
            f"  vk: {_vk_line(config)}",
            f"  max: {_max_line(config)}",
        ]
    )


def _departments_line(config: Config) -> str:
    if not config.departments:
        return f"off (one team in chat {config.operators.chat_id})"
    groups = len({d.chat_id for d in config.departments})
    routing = config.routing
    ask = routing is None or routing.ask
    default = (routing.default if routing else None) or config.departments[0].id
    how = "new customers choose" if ask and len(config.departments) > 1 else "no question"
    own = [d.id for d in config.departments if d.own_service_levels()]
    levels = f", own service levels: {', '.join(own)}" if own else ""
    return (f"{', '.join(d.id for d in config.departments)} in {groups} "
            f"group{'' if groups == 1 else 's'}, {how}, default {default}{levels}")


def _http_line(config: Config) -> str:
    http = config.http
    if http is None:
        return "off (no 'http' section)"
    public = f", public at {redact_url(http.public_url)}" if http.public_url else ""
    return f"listening on {http.listen}{public}"


def _vk_line(config: Config) -> str:
    section = config.vk
    if section is None or not section.enabled:
        return "off"
    mode = section.mode
    if section.callback is not None and section.mode == "callback" and config.http is not None:
        mode += f" at {redact_url(config.http.url_for(section.callback.path))}"
    return f"community {section.group_id}, {redact_url(section.api_server)} ({mode})"


def _max_line(config: Config) -> str:
    section = config.max
    if section is None or not section.enabled:
        return "off"
    ca = ", CA file set" if section.ca_file else ""
    return f"{redact_url(section.api_server)} ({section.mode}{ca})"


def _faq_line(config: Config) -> str:
    if not config.faq:
        return "off (no faq entries)"
    languages = sorted({lang for entry in config.faq for lang in entry.texts})
    mode = "the bot answers first" if config.selfservice.bot else "/faq for operators only"
    return f"{len(config.faq)} FAQ entries ({', '.join(languages)}), {mode}"


def _service_line(config: Config) -> str:
    service = config.service
    if service is None:
        return "off (no 'service' section)"
    targets = service.targets
    first = format_duration(targets.first_response) if targets.first_response else "off"
    hours = "working hours" if service.hours and targets.business_hours else "around the clock"
    return f"{service.timezone}, first response {first} ({hours})"


def _read_file(path: Path, source: str) -> str:
    def fail(message: str, hint: str | None = None) -> ConfigError:
        return ConfigError([ConfigIssue("", message, hint)], source)

    try:
        # utf-8-sig: editors on Windows like to add a byte-order mark.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise fail("file not found", "check the path, or copy the example config.yaml") from None
    except IsADirectoryError:
        raise fail("is a directory, not a config file", "pass the .yaml file's path") from None
    except PermissionError:
        raise fail("cannot read the file: permission denied") from None
    except UnicodeDecodeError as exc:
        message = f"is not UTF-8 text (bad byte at offset {exc.start})"
        raise fail(message, "save the file as UTF-8") from None
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror or exc}") from None


def _path_hint(path: str) -> str | None:
    return PATH_HINTS.get(re.sub(r"\[\d+\]", "[*]", path))

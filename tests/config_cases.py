"""Config texts for the config tests: a minimal valid config and ways to load it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from bots.config import Config, ConfigError, ConfigIssue, load_config_text

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

"""``${VAR}``, ``${VAR:-default}`` and ``$$`` in config values, expanded from the environment.

Tokens can stay out of the file this way. A reference that cannot be resolved becomes a
ConfigIssue at the value's line, and its path is kept so that validation does not report the
emptied value a second time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bots.config_errors import ConfigIssue, Loc, format_path, kind_of
from bots.config_secrets import is_secret_path, mask_secrets
from bots.config_yaml import LineMap

_ENV_REFERENCE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|(?P<bad>\$\{[^}]*\}?)"
)
ENV_HINT = "set it in the environment (export {name}=...) or give a default: ${{{name}:-value}}"


@dataclass
class Interpolated:
    """The config data with references expanded, and what could not be expanded."""

    data: object
    issues: list[ConfigIssue]
    unresolved: set[Loc]  # paths whose value could not be built; skip pydantic's complaints


def interpolate(data: object, env: Mapping[str, str], lines: LineMap) -> Interpolated:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``$$`` in every string value."""
    result = Interpolated(None, [], set())
    result.data = _interpolate(data, (), env, lines, result, set())
    return result


def _interpolate(
    value: object,
    loc: Loc,
    env: Mapping[str, str],
    lines: LineMap,
    result: Interpolated,
    active: set[int],
) -> object:
    if isinstance(value, dict | list):
        if id(value) in active:
            return value
        active.add(id(value))
        try:
            if isinstance(value, list):
                return [
                    _interpolate(item, (*loc, index), env, lines, result, active)
                    for index, item in enumerate(value)
                ]
            out: dict[str, object] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    line, column = lines.locate(loc)
                    result.issues.append(
                        ConfigIssue(
                            format_path((*loc, str(key))),
                            f"key {key!r} is {kind_of(key)}, not text",
                            "put the key in quotes (YAML reads yes/no/on/off as true/false)",
                            line,
                            column,
                        )
                    )
                    continue
                out[key] = _interpolate(item, (*loc, key), env, lines, result, active)
            return out
        finally:
            active.discard(id(value))
    if isinstance(value, str) and "$" in value:
        return _substitute(value, loc, env, lines, result)
    return value


def _substitute(
    text: str, loc: Loc, env: Mapping[str, str], lines: LineMap, result: Interpolated
) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        line, column = lines.locate(loc)
        if match.group("bad") is not None:
            result.unresolved.add(loc)
            bad = "" if is_secret_path(loc) else f" {mask_secrets(match.group('bad'))!r}"
            result.issues.append(
                ConfigIssue(
                    format_path(loc),
                    f"malformed environment variable reference{bad}",
                    "write ${NAME} or ${NAME:-default}; write $$ for a literal $",
                    line,
                    column,
                )
            )
            return ""
        name = match.group("name")
        default = match.group("default")
        found = env.get(name)
        # Like the shell: ":-" also falls back when the variable is set but empty.
        if default is not None and not found:
            return default
        if found is None:
            result.unresolved.add(loc)
            result.issues.append(
                ConfigIssue(
                    format_path(loc),
                    f"environment variable {name} is not set",
                    ENV_HINT.format(name=name),
                    line,
                    column,
                )
            )
            return ""
        return found

    return _ENV_REFERENCE.sub(replace, text)

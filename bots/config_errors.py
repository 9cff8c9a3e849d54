"""Config problems: collecting them from YAML, env interpolation and pydantic, and printing them.

Everything here is careful with secrets: a value is only echoed back when its key is not a
secret, URL passwords are masked, and token-shaped strings are masked wherever they appear.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from bots.durations import format_duration

Loc = tuple[str | int, ...]

# Raised by our own validators: the message is final, ``ctx`` may carry ``hint`` and ``field``
# (a model-level check that wants to point at one of the model's keys).
ISSUE_TYPE = "relaydesk"

SECRET_KEY_NAMES = frozenset({"token", "secret", "password", "passwd", "api_key", "apikey"})
_SECRET_SUFFIXES = ("_token", "_secret", "_password")
_SECRET_QUERY_PARAM = re.compile(r"([?&][^=&#]*(?:password|secret|token)[^=&#]*=)[^&#]*", re.I)
_TOKEN_SHAPED = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_ENV_REFERENCE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|(?P<bad>\$\{[^}]*\}?)"
)
ENV_HINT = "set it in the environment (export {name}=...) or give a default: ${{{name}:-value}}"


def issue(message: str, hint: str | None = None, *, field_name: str | None = None) -> Exception:
    """A validation error that ``issues_from_validation`` turns into a ConfigIssue verbatim."""
    context: dict[str, str] = {}
    if hint:
        context["hint"] = hint
    if field_name:
        context["field"] = field_name
    # Braces would be read as template fields by pydantic; our messages never need them.
    return PydanticCustomError(ISSUE_TYPE, message.replace("{", "(").replace("}", ")"), context)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file, at a dotted key path like ``operators.admins[1]``."""

    path: str
    message: str
    hint: str | None = None
    line: int | None = None
    column: int | None = None

    def render(self) -> str:
        where = ""
        if self.line is not None:
            where = f"line {self.line}"
            if not self.path and self.column is not None:
                where += f", column {self.column}"
            where += ": "
        head = f"{where}{self.path}: {self.message}" if self.path else f"{where}{self.message}"
        if self.hint:
            return f"{head}\n  hint: {self.hint}"
        return head


class ConfigError(Exception):
    """The config cannot be used; ``issues`` lists every problem found, not just the first."""

    def __init__(self, issues: Sequence[ConfigIssue], source: str = "config.yaml") -> None:
        self.issues: list[ConfigIssue] = sorted(
            issues, key=lambda item: (item.line is None, item.line or 0)
        )
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.issues)
        lines = [f"{self.source}: {count} problem{'' if count == 1 else 's'}"]
        for item in self.issues:
            lines.extend("  " + line for line in item.render().splitlines())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def format_path(loc: Sequence[str | int]) -> str:
    """``("operators", "admins", 1)`` → ``operators.admins[1]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def is_secret_path(loc: Sequence[str | int]) -> bool:
    """Whether the value at ``loc`` must never be printed (tokens, secrets, passwords)."""
    for part in loc:
        if isinstance(part, str):
            name = part.lower()
            if name in SECRET_KEY_NAMES or name.endswith(_SECRET_SUFFIXES):
                return True
    return False


def redact_url(url: str) -> str:
    """Mask the password of ``scheme://user:password@host/...?password=...``."""
    url = _SECRET_QUERY_PARAM.sub(r"\1***", url)
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    rest = url[scheme_end + 3 :]
    # The last "@" ends the userinfo: passwords may contain "@" (unquoted) but hosts may not.
    at = rest.rfind("@")
    if at < 0 or ":" not in rest[:at]:
        return url
    user = rest[: rest.index(":")]
    return f"{url[: scheme_end + 3]}{user}:***@{rest[at + 1 :]}"


def mask_secrets(text: str) -> str:
    """Mask URL passwords and anything shaped like a bot token inside free text."""
    return _TOKEN_SHAPED.sub("***", redact_url(text))


def echo(loc: Sequence[str | int], value: object) -> str | None:
    """A short printable form of a bad value, or None when it must not be shown."""
    if is_secret_path(loc) or isinstance(value, dict | list):
        return None
    if isinstance(value, timedelta):
        return format_duration(value)
    shown = repr(mask_secrets(value)) if isinstance(value, str) else repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def kind_of(value: object) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a section"
    return type(value).__name__


# --- YAML -----------------------------------------------------------------------------------


@dataclass
class LineMap:
    """Where each key path starts in the YAML text (1-based line and column)."""

    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def locate(self, loc: Loc) -> tuple[int | None, int | None]:
        """The exact key's position, else its nearest ancestor's (where a missing key goes)."""
        for end in range(len(loc), 0, -1):
            found = self.marks.get(loc[:end])
            if found is not None:
                return found
        return None, None


def read_yaml(text: str) -> tuple[object, LineMap, list[ConfigIssue]]:
    """Parse YAML keeping line numbers; duplicate keys and syntax errors become issues."""
    lines = LineMap()
    issues: list[ConfigIssue] = []
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines, issues
        # Walk before constructing: construction flattens merge keys in place.
        _walk_node(node, (), lines, issues, set())
        return loader.construct_document(node), lines, issues
    except yaml.MarkedYAMLError as exc:
        issues.append(_syntax_issue(exc))
        return None, lines, issues
    except yaml.YAMLError as exc:  # unmarked errors are rare (e.g. reader problems)
        issues.append(ConfigIssue("", f"invalid YAML: {mask_secrets(str(exc))}"))
        return None, lines, issues
    finally:
        loader.dispose()


def _syntax_issue(exc: yaml.MarkedYAMLError) -> ConfigIssue:
    # Only problem/context are used: str(exc) quotes the offending line, which may hold a token.
    problem = exc.problem or "syntax error"
    message = f"invalid YAML: {problem}"
    if exc.context:
        message += f" ({exc.context})"
    hint = (
        "check indentation and quoting; values containing ': ' or ' #' or starting with "
        "{ [ * & ! % @ ` need quotes"
    )
    if "\\t" in problem or "\t" in problem:
        hint = "YAML does not allow tabs for indentation; use spaces"
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return ConfigIssue("", mask_secrets(message), hint)
    return ConfigIssue("", mask_secrets(message), hint, mark.line + 1, mark.column + 1)


def _walk_node(
    node: yaml.Node, loc: Loc, lines: LineMap, issues: list[ConfigIssue], active: set[int]
) -> None:
    if id(node) in active:  # a recursive alias; pydantic reports the cycle
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            child = (*loc, key)
            line = key_node.start_mark.line + 1
            if key in first_seen:
                issues.append(
                    ConfigIssue(
                        format_path(child),
                        f"duplicate key (also on line {first_seen[key]})",
                        "remove one of them; YAML would silently keep only the last one",
                        line,
                        key_node.start_mark.column + 1,
                    )
                )
            else:
                first_seen[key] = line
            lines.marks[child] = (line, key_node.start_mark.column + 1)
            _walk_node(value_node, child, lines, issues, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*loc, index)
            lines.marks[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _walk_node(item, child, lines, issues, active)
    active.discard(id(node))


# --- environment interpolation --------------------------------------------------------------


@dataclass
class Interpolated:
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


# --- pydantic errors ------------------------------------------------------------------------


def model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class validating the section at ``loc`` (None when it is not a section)."""
    current = root
    for part in loc:
        if not isinstance(part, str) or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        current = annotation
    return current


def issues_from_validation(
    exc: ValidationError,
    root: type[BaseModel],
    lines: LineMap,
    path_hint: Callable[[str], str | None],
    skip: set[Loc],
) -> Iterator[ConfigIssue]:
    """Translate pydantic errors into ConfigIssues without echoing secret input."""
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] == ISSUE_TYPE and ctx.get("field"):
            loc = (*loc, str(ctx["field"]))
        if loc in skip:
            continue
        message, hint = _describe(error, loc, root)
        path = format_path(loc)
        line, column = lines.locate(loc)
        yield ConfigIssue(path, message, hint or path_hint(path), line, column)


def _describe(error: ErrorDetails, loc: Loc, root: type[BaseModel]) -> tuple[str, str | None]:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    shown = echo(loc, value)
    got = f", got {shown}" if shown is not None else ""
    if kind == ISSUE_TYPE:
        return error["msg"], ctx.get("hint")
    if kind == "missing":
        section = model_at(root, loc) is not None
        return (f"required {'section' if section else 'key'} is missing", None)
    if kind == "extra_forbidden":
        return "unknown key", _unknown_key_hint(root, loc)
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return f"expected a section of 'key: value' lines, got {kind_of(value)}", None
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"expected a whole number{got or ', got ' + kind_of(value)}", None
    if kind.startswith("float_"):
        return f"expected a number{got or ', got ' + kind_of(value)}", None
    if kind.startswith("bool_"):
        return f"expected true or false{got}", None
    if kind == "string_type":
        if value is None:
            return "is empty", None
        return f"expected text, got {kind_of(value)}", "put the value in quotes"
    if kind == "list_type":
        return (
            f"expected a list, got {kind_of(value)}",
            "write [a, b] or one '- item' per line",
        )
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}{got}", None
    bounds = {
        "greater_than": "greater than {gt}",
        "greater_than_equal": "at least {ge}",
        "less_than": "less than {lt}",
        "less_than_equal": "at most {le}",
    }
    if kind in bounds:
        return f"must be {bounds[kind].format(**ctx)}{got}", None
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:], None


def _unknown_key_hint(root: type[BaseModel], loc: Loc) -> str | None:
    model = model_at(root, loc[:-1])
    if model is None:
        return None
    allowed = list(model.model_fields)
    key = str(loc[-1])
    close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
    listing = f"allowed keys: {', '.join(allowed)}"
    return f"did you mean '{close[0]}'? {listing}" if close else listing

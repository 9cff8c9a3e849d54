"""pydantic's validation errors as ConfigIssues: a key path, a plain message and a hint.

A bad value is only echoed back through ``bots.config_secrets.echo``, so no message quotes a
secret; issues raised by our own validators (``bots.config_errors.issue``) pass verbatim.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bots.config_errors import ISSUE_TYPE, ConfigIssue, Loc, format_path, kind_of
from bots.config_secrets import echo
from bots.config_yaml import LineMap


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

"""Config problems: one ConfigIssue per problem, at a key path, and one ConfigError listing
every problem found, so an admin fixes a bad edit in one round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]

# Raised by our own validators: the message is final, ``ctx`` may carry ``hint`` and ``field``
# (a model-level check that wants to point at one of the model's keys).
ISSUE_TYPE = "relaydesk"


def issue(message: str, hint: str | None = None, *, field_name: str | None = None) -> Exception:
    """A validation error that ``config_validation`` turns into a ConfigIssue verbatim."""
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


def kind_of(value: object) -> str:
    """What kind of value a user wrote, in words for an error message."""
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

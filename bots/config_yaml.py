"""Reading config.yaml: YAML parsed with each key's line and column kept for error messages.

Duplicate keys, which YAML itself would silently collapse to the last one, and syntax errors
become ConfigIssues; nothing of the offending text is quoted (it may hold a token).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from bots.config_errors import ConfigIssue, Loc, format_path
from bots.config_secrets import mask_secrets

_MERGE_TAG = "tag:yaml.org,2002:merge"


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

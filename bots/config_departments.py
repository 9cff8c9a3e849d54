"""config.yaml's `departments:` list and `routing:` section (their names are fixed).

```yaml
departments:
  - id: sales
    names: {ru: "Покупка и оплата", en: "Buying and payment"}
    chat_id: -1001111111111          # its own forum group (or the same group as another)
    on_duty: [111]
  - id: tech
    names: {ru: "Техподдержка", en: "Technical support"}
    chat_id: -1002222222222
    targets: {first_response: 15m}   # its own service levels (hours, targets, per_channel)
routing: {ask: true, default: tech, ask_wait: 2m}
```

Without `departments:` there is one implicit department: the operator group.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from bots.config_errors import issue
from bots.config_selfservice import ID_PATTERN, LANGUAGE
from bots.config_service import OWN_SERVICE_KEYS, DepartmentServiceConfig
from bots.config_types import Duration, Int, Section, UserId
from core.departments.model import Department, Departments, Routing

# A forum supergroup's id is -100…; anything above is a user, a basic group or a typo.
_SUPERGROUP_BELOW = -1_000_000_000_000
NAME_LIMIT = 40  # a button label customers read on a phone


class DepartmentConfig(DepartmentServiceConfig):
    """One team, in its own forum group (or sharing one with another team), optionally with
    its own `hours`, `targets` and `per_channel` (laid over the `service` section's)."""

    id: str
    names: dict[str, str]
    chat_id: Int
    on_duty: list[UserId] = []
    # Another department uses the same group, on purpose (its topics mix with theirs).
    shared_group: bool = False

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not ID_PATTERN.match(value) or len(value) > 32:
            raise issue(f"{value!r} is not a valid id",
                        "a slug of up to 32 characters: lower-case letters, digits, _ and -")
        return value

    @field_validator("names")
    @classmethod
    def _check_names(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise issue("no names", 'give one per language, e.g. {en: "Technical support"}')
        for language, name in value.items():
            if not LANGUAGE.match(language):
                raise issue(f"{language!r} is not a language code", "e.g. ru or en")
            if not name.strip() or len(name) > NAME_LIMIT:
                raise issue(f"{language}: the name is empty or over {NAME_LIMIT} characters",
                            "customers read it on a button")
        return value

    @field_validator("chat_id")
    @classmethod
    def _check_chat_id(cls, value: int) -> int:
        if value >= _SUPERGROUP_BELOW:
            raise issue(f"{value} is not a forum supergroup id",
                        "a supergroup's id starts with -100; turn on Topics in its settings")
        return value


class RoutingConfig(Section):
    """How a new customer reaches a department."""

    # Ask a new customer to choose (buttons) before the first hand-over.
    ask: bool = True
    # Where a customer goes who does not choose within `ask_wait` (and when nobody asks).
    default: str | None = None
    ask_wait: Duration = Field(default=timedelta(minutes=2), ge=timedelta(seconds=1))


def check_departments(departments: list[DepartmentConfig], routing: RoutingConfig | None,
                      operators_chat: int, *, service: bool = True) -> None:
    """Ids unique, references known, a group shared only on purpose; a department's own
    service levels only with a `service` section (they are laid over it)."""
    seen: dict[str, int] = {}
    groups: dict[int, int] = {}
    for number, department in enumerate(departments):
        if department.own_service_levels() and not service:
            keys = sorted(department.model_fields_set & OWN_SERVICE_KEYS)
            raise issue(f"departments[{number}].{keys[0]}: there is no `service:` section",
                        "a department's hours, targets and per_channel override the service "
                        "section's; add a `service:` section (`service: {}` keeps its defaults)",
                        field_name="departments")
        if department.id in seen:
            raise issue(f"departments[{number}].id: duplicate id {department.id!r} (also "
                        f"departments[{seen[department.id]}])",
                        "every department needs its own id", field_name="departments")
        seen[department.id] = number
        other = groups.get(department.chat_id)
        shared = department.shared_group and departments[other].shared_group \
            if other is not None else True
        if other is not None and not shared:
            raise issue(f"departments[{number}].chat_id: the group of departments[{other}] "
                        f"({departments[other].id})",
                        "give each department its own group, or set `shared_group: true` "
                        "on both to share one on purpose", field_name="departments")
        groups.setdefault(department.chat_id, number)
    if routing is None:
        return
    if not departments:
        raise issue("routing: there are no departments", "add a `departments:` list or "
                    "remove `routing:`", field_name="routing")
    if routing.default is not None and routing.default not in seen:
        raise issue(f"routing.default: {routing.default!r} is no department",
                    f"one of {', '.join(seen)}", field_name="routing")
    del operators_chat  # the operator group may be a department's group too


def departments_of(departments: list[DepartmentConfig], routing: RoutingConfig | None,
                   operators_chat: int) -> Departments | None:
    """The core's departments (None: the one implicit department, the operator group)."""
    if not departments:
        return None
    routing = routing or RoutingConfig()
    return Departments(
        [Department(d.id, dict(d.names), None if d.chat_id == operators_chat
                    else str(d.chat_id), tuple(str(u) for u in d.on_duty))
         for d in departments],
        Routing(routing.ask and len(departments) > 1,
                routing.default or departments[0].id, routing.ask_wait))

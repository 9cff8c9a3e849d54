"""A department's own `hours`, `targets` and `per_channel`: laid over the `service` section
key by key, the rest from `service`; every error names its key path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bots.config import summarize
from bots.config_service import sla_policy
from core.sla.policy import SlaPolicy, TargetKind
from tests.config_cases import load, make, only_problem

MIN = timedelta(minutes=1)


def _department(number: int, **own: Any) -> dict[str, Any]:
    return {"id": f"d{number}", "names": {"en": f"Team {number}"},
            "chat_id": -1001111111110 - number, **own}


def _policy(service: dict[str, Any] | None, *own: dict[str, Any]) -> SlaPolicy:
    config = load(make(service=service, departments=[_department(0), *(
        _department(n + 1, **o) for n, o in enumerate(own))]))
    assert config.service is not None
    return sla_policy(config.service, [], {d.id: d for d in config.departments})


SERVICE = {"timezone": "Europe/Moscow", "hours": {"mon-fri": "09:00-18:00"},
           "targets": {"first_response": "1h", "next_response": "2h"},
           "per_channel": {"vk": {"first_response": "30m"}}, "remind_before": "10m"}


def test_a_department_without_its_own_levels_uses_the_service() -> None:
    policy = _policy(SERVICE)
    assert policy.per_department == {}
    assert policy.channel("telegram", "d0") is policy.default
    assert policy.channel("vk", "d0") is policy.channel("vk")
    assert policy.channel("telegram", None) is policy.default


def test_targets_replace_the_service_s_one_by_one() -> None:
    policy = _policy(SERVICE, {"targets": {"first_response": "5m"}})
    telegram = policy.channel("telegram", "d1")
    assert telegram.targets.first_response == 5 * MIN
    assert telegram.targets.next_response == 120 * MIN  # not given: the service's
    assert telegram.hours == policy.default.hours and telegram.remind_before == 10 * MIN
    # The service's per_channel entry still gives what it names, the rest is the team's.
    vk = policy.channel("vk", "d1")
    assert (vk.targets.first_response, vk.targets.next_response) == (30 * MIN, 120 * MIN)
    assert policy.channel("telegram", "d0").targets.first_response == 60 * MIN


def test_per_channel_entries_replace_the_service_s_of_the_same_channel() -> None:
    policy = _policy(SERVICE, {"targets": {"first_response": "5m"},
                               "per_channel": {"vk": {"next_response": "10m"},
                                               "web": {"first_response": "off"}}})
    vk = policy.channel("vk", "d1")
    assert (vk.targets.first_response, vk.targets.next_response) == (5 * MIN, 10 * MIN)
    assert policy.channel("web", "d1").targets.first_response is None
    assert policy.channel("web", "d0").targets.first_response == 60 * MIN
    assert not policy.should_acknowledge(None, None, datetime(2026, 12, 1, tzinfo=UTC),
                                         "web", "d1")


def test_hours_replace_the_service_s_in_its_time_zone() -> None:
    policy = _policy(SERVICE, {"hours": {"mon-sun": "00:00-24:00"}}, {"hours": None})
    saturday = datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert not policy.channel("telegram", "d0").hours.is_open(saturday)
    assert policy.channel("telegram", "d1").hours.is_open(saturday)
    assert policy.channel("telegram", "d1").hours.zone.key == "Europe/Moscow"
    assert policy.channel("vk", "d1").hours.is_open(saturday)  # the team's hours, its vk
    assert policy.channel("telegram", "d2").hours.is_open(saturday)  # null: around the clock
    # The clock counts each one's own open time.
    [team] = policy.deadlines("telegram", (TargetKind.FIRST_RESPONSE,), saturday, "d1")
    [desk] = policy.deadlines("telegram", (TargetKind.FIRST_RESPONSE,), saturday, "d0")
    assert team.due_at == saturday + 60 * MIN
    assert desk.due_at == datetime(2026, 12, 7, 7, tzinfo=UTC)  # Monday 10:00 in Moscow


@pytest.mark.parametrize(("own", "path", "message"), [
    ({"targets": {"first_response": "soon"}}, "departments[1].targets.first_response",
     "not a duration"),
    ({"targets": {"first_reply": "5m"}}, "departments[1].targets.first_reply", "unknown key"),
    ({"hours": {"mon-fri": "9-18"}}, "departments[1].hours", "write ranges like 09:00-18:00"),
    ({"per_channel": {"icq": {}}}, "departments[1].per_channel", "unknown channel 'icq'"),
    ({"hours": {"mon-sun": "closed"}}, "departments[1].hours", "open on no day of the week"),
    ({"per_channel": {"vk": {"next_response": -5}}},
     "departments[1].per_channel.vk.next_response", ""),
])
def test_bad_department_service_levels_are_named(own: dict[str, Any], path: str,
                                                  message: str) -> None:
    problem = only_problem(make(service={}, departments=[_department(0),
                                                         _department(1, **own)]))
    assert problem.path == path
    assert message in problem.render()


def test_a_department_s_levels_need_a_service_section() -> None:
    problem = only_problem(make(departments=[
        _department(0), _department(1, targets={"first_response": "5m"})]))
    rendered = problem.render()
    assert "departments[1].targets: there is no `service:` section" in rendered
    assert "service: {}" in rendered


def test_check_names_the_departments_with_their_own_levels() -> None:
    config = load(make(service={}, departments=[
        _department(0), _department(1, hours={"mon-fri": "10:00-19:00"})]))
    assert ", default d0, own service levels: d1\n" in summarize(config) + "\n"

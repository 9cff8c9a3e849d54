"""The `service` section: hours, targets, acknowledgements; every error names its key path."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bots.config_service import sla_policy
from tests.test_config import load, make, only_problem, problems


def test_no_service_section_means_no_service_levels() -> None:
    assert load(make()).service is None


def test_service_section_becomes_a_policy() -> None:
    config = load(make(service={
        "timezone": "Europe/Moscow",
        "hours": {"mon-fri": "09:00-18:00", "sat": "10:00-14:00"},
        "holidays": ["2026-12-31"],
        "targets": {"first_response": "1h", "next_response": "30m", "resolution": "1d"},
        "per_channel": {"telegram": {"first_response": "15m", "business_hours": False}},
        "remind_before": "10m",
        "on_duty": [5],
        "acknowledgement": {"default_language": "ru",
                            "texts": {"en": {"ack_open": "Hi! {{ wait }}"}}},
    }))
    service = config.service
    assert service is not None and service.report_time() is not None
    policy = sla_policy(service, [9])
    assert policy.default.hours.holidays == frozenset({date(2026, 12, 31)})
    assert policy.default.targets.resolution == timedelta(days=1)
    telegram = policy.channel("telegram")
    assert telegram.targets.first_response == timedelta(minutes=15)
    assert telegram.targets.next_response == timedelta(minutes=30)  # inherited
    assert not telegram.targets.business_hours
    assert telegram.remind_before == timedelta(minutes=10)
    assert policy.channel("vk") is policy.default
    assert policy.on_duty == (5,) and policy.admins == (9,)
    assert policy.ack.default_language == "ru"


def test_targets_can_be_off_and_hours_default_to_around_the_clock() -> None:
    config = load(make(service={"targets": {"resolution": "off", "next_response": None},
                                "daily_report": "off"}))
    assert config.service is not None
    policy = sla_policy(config.service, [])
    assert policy.default.targets.next_response is None
    assert policy.default.hours.week[6]  # Sunday is open
    assert config.service.report_time() is None


@pytest.mark.parametrize(
    ("service", "path", "part"),
    [
        ({"timezone": "Mars/Olympus"}, "service.timezone", "not a known time zone"),
        ({"hours": {"mon-fry": "09:00-18:00"}}, "service.hours", "days are"),
        ({"hours": {"mon": "18:00-09:00"}}, "service.hours", "ends after it starts"),
        ({"targets": {"first_response": "soon"}}, "service.targets.first_response", ""),
        ({"per_channel": {"icq": {}}}, "service.per_channel", "unknown channel"),
        ({"per_channel": {"telegram": {"hours": {"xx": "1"}}}},
         "service.per_channel.telegram.hours", "days are"),
        ({"acknowledgement": {"texts": {"en": {"ack_opn": "x"}}}},
         "service.acknowledgement.texts", "unknown text"),
        ({"acknowledgement": {"texts": {"en": {"ack_open": "{{ wait"}}}},
         "service.acknowledgement.texts", "template error"),
        ({"acknowledgement": {"texts": {"de": {"ack_open": "x"}}}},
         "service.acknowledgement.texts", "needs every text"),
        ({"acknowledgement": {"default_language": "de"}},
         "service.acknowledgement.default_language", "no texts"),
        ({"daily_report": "25:00"}, "service.daily_report", "time of day"),
        ({"on_duty": ["@olga"]}, "service.on_duty[0]", ""),
        ({"sweep_interval": "2h"}, "service.sweep_interval", ""),
        ({"target": {}}, "service.target", ""),
    ],
)
def test_service_errors_name_the_key(service: dict[str, object], path: str, part: str) -> None:
    problem = only_problem(make(service=service))
    assert problem.path == path, problems(make(service=service))
    assert part in problem.message + (problem.hint or "")


def test_the_example_config_has_service_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    from bots.config import load_config
    from tests.test_config import EXAMPLE

    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    config = load_config(EXAMPLE)
    assert config.service is not None
    policy = sla_policy(config.service, config.operators.admins)
    assert policy.channel("telegram").targets.first_response == timedelta(minutes=15)
    assert policy.default.targets.resolution == timedelta(days=1)

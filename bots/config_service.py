"""config.yaml's `service` section: working hours, response targets, acknowledgements and the
SLA jobs (docs/architecture.md, "Service levels"). Turned into the core's `SlaPolicy` by
`sla_policy`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time, timedelta
from typing import Annotated, Any

from jinja2 import TemplateSyntaxError
from pydantic import BeforeValidator, Field, field_validator, model_validator

from bots.config_errors import issue
from bots.config_types import Duration, Section, UserId, to_duration
from core.sla.ack import LANGUAGES, TEMPLATE_NAMES, check_template
from core.sla.hours import HoursError, WorkingHours
from core.sla.policy import AckSettings, ChannelPolicy, ServiceLevels, SlaPolicy, Targets

HOURS_HINT = 'e.g. {mon-fri: "09:00-18:00", sat: "10:00-14:00", sun: closed}'
ZONE_HINT = "an IANA time zone name, e.g. Europe/Moscow or UTC"
_TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_OFF = {"off", "none", "no", "never"}


def _target(value: object) -> object:
    """A target duration, or off/null for no target of that kind."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _OFF):
        return None
    if value is False:
        return None
    return to_duration(value)


Target = Annotated[timedelta | None, BeforeValidator(_target)]


def _check_zone(value: str) -> str:
    try:
        WorkingHours.parse(value, {})
    except HoursError:
        raise issue(f"{value!r} is not a known time zone", ZONE_HINT) from None
    return value


def _check_hours(value: dict[str, str]) -> dict[str, str]:
    try:
        hours = WorkingHours.parse("UTC", value)
    except HoursError as exc:
        raise issue(str(exc), HOURS_HINT) from None
    if not any(hours.week.values()):  # no deadline could ever be counted
        raise issue("open on no day of the week", HOURS_HINT + "; leave hours out for "
                    "around the clock")
    return value


def _optional_zone(value: str | None) -> str | None:
    return value if value is None else _check_zone(value)


def _optional_hours(value: dict[str, str] | None) -> dict[str, str] | None:
    return value if value is None else _check_hours(value)


class TargetsConfig(Section):
    """How long a customer may wait; `off` for no target of that kind."""

    first_response: Target = timedelta(hours=1)
    next_response: Target = timedelta(hours=1)
    resolution: Target = None
    business_hours: bool = True  # count only working hours (false: around the clock)


class ChannelServiceConfig(Section):
    """One channel's own hours and targets; anything left out comes from `service`."""

    timezone: str | None = None
    hours: dict[str, str] | None = None
    holidays: list[date] | None = None
    first_response: Target = Field(default=timedelta(hours=1))
    next_response: Target = Field(default=timedelta(hours=1))
    resolution: Target = None
    business_hours: bool | None = None
    remind_before: Target = Field(default=timedelta(minutes=15))

    validate_zone = field_validator("timezone")(_optional_zone)
    validate_hours = field_validator("hours")(_optional_hours)


class AckConfig(Section):
    """The automatic answer to a customer's first message: when a human will reply."""

    enabled: bool = True
    quiet: Duration = Field(default=timedelta(minutes=5), ge=timedelta(0))
    default_language: str = "en"
    # Override a shipped text (ack_open, ack_later, ack_closed) or add a language.
    texts: dict[str, dict[str, str]] = {}
    timezone_names: dict[str, str] = {}  # e.g. {en: "Moscow time", ru: "по московскому"}

    @field_validator("texts")
    @classmethod
    def _check_texts(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for lang, templates in value.items():
            for name, source in templates.items():
                if name not in TEMPLATE_NAMES:
                    raise issue(f"{lang}.{name}: unknown text",
                                f"the texts are {', '.join(TEMPLATE_NAMES)}")
                try:
                    check_template(source)
                except TemplateSyntaxError as exc:
                    raise issue(f"{lang}.{name}: template error: {exc.message}",
                                "jinja2 syntax, e.g. 'within {{ wait }}'") from None
            missing = [n for n in TEMPLATE_NAMES if n not in templates]
            if lang not in LANGUAGES and missing:
                raise issue(f"{lang}: a new language needs every text; missing "
                            f"{', '.join(missing)}", f"shipped languages: {', '.join(LANGUAGES)}")
        return value

    @model_validator(mode="after")
    def _check_default(self) -> AckConfig:
        if self.default_language not in LANGUAGES and self.default_language not in self.texts:
            raise issue(f"no texts for {self.default_language!r}",
                        f"use one of {', '.join(LANGUAGES)} or add it under texts",
                        field_name="default_language")
        return self


def _check_channels(value: dict[str, Any]) -> dict[str, Any]:
    for name in value:
        if name not in ("telegram", "vk", "max", "web"):
            raise issue(f"unknown channel {name!r}", "channels are telegram, vk, max and web")
    return value


class ServiceConfig(Section):
    """Service levels: hours, targets, reminders, escalations and reports."""

    timezone: str = "UTC"
    hours: dict[str, str] | None = None  # None: around the clock
    holidays: list[date] = []
    targets: TargetsConfig = TargetsConfig()
    per_channel: dict[str, ChannelServiceConfig] = {}
    remind_before: Target = timedelta(minutes=15)
    on_duty: list[UserId] = []
    acknowledgement: AckConfig = AckConfig()
    sweep_interval: Duration = Field(default=timedelta(seconds=30), ge=timedelta(seconds=0.1),
                                     le=timedelta(hours=1))
    digest_interval: Target = timedelta(hours=1)
    daily_report: str | None = "09:00"  # local time of the daily report; off for none
    # A topic title's status emoji changes after the status held still this long; off: never.
    title_debounce: Target = timedelta(seconds=30)

    validate_zone = field_validator("timezone")(_check_zone)
    validate_hours = field_validator("hours")(_optional_hours)

    check_channels = field_validator("per_channel")(_check_channels)

    @field_validator("daily_report", mode="before")
    @classmethod
    def _check_report_time(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and value.strip().lower() in _OFF):
            return None
        if not isinstance(value, str) or not _TIME_OF_DAY.match(value.strip()):
            raise issue("must be a time of day like 09:00, or off")
        return value.strip()

    def report_time(self) -> time | None:
        if self.daily_report is None:
            return None
        hour, minute = self.daily_report.split(":")
        return time(int(hour), int(minute))


class DepartmentServiceConfig(Section):
    """A department's own service levels (same shapes as under `service`); each one given
    replaces the service's for the department's conversations."""

    hours: dict[str, str] | None = None  # in the service's time zone
    targets: TargetsConfig = TargetsConfig()
    per_channel: dict[str, ChannelServiceConfig] = {}

    validate_hours = field_validator("hours")(_optional_hours)
    check_channels = field_validator("per_channel")(_check_channels)

    def own_service_levels(self) -> bool:
        return bool(self.model_fields_set & OWN_SERVICE_KEYS)


OWN_SERVICE_KEYS = frozenset({"hours", "targets", "per_channel"})


def _hours(timezone: str, hours: Mapping[str, str] | None, holidays: list[date]
           ) -> WorkingHours:
    if hours is None:
        around = WorkingHours.around_the_clock()
        return WorkingHours(WorkingHours.parse(timezone, {}).zone, around.week,
                            frozenset(holidays))
    return WorkingHours.parse(timezone, hours, holidays)


def _levels(service: ServiceConfig) -> ServiceLevels:
    """The default and per-channel policies of a `service` section."""
    t = service.targets
    base = ChannelPolicy(_hours(service.timezone, service.hours, service.holidays),
                         Targets(t.first_response, t.next_response, t.resolution,
                                 t.business_hours),
                         service.remind_before)
    channels: dict[str, ChannelPolicy] = {}
    for name, c in service.per_channel.items():
        given = c.model_fields_set
        hours = base.hours
        if given & {"timezone", "hours", "holidays"}:
            hours = _hours(c.timezone or service.timezone,
                           c.hours if "hours" in given else service.hours,
                           c.holidays if c.holidays is not None else service.holidays)
        channels[name] = ChannelPolicy(
            hours,
            Targets(
                c.first_response if "first_response" in given else t.first_response,
                c.next_response if "next_response" in given else t.next_response,
                c.resolution if "resolution" in given else t.resolution,
                t.business_hours if c.business_hours is None else c.business_hours,
            ),
            c.remind_before if "remind_before" in given else service.remind_before,
        )
    return ServiceLevels(base, channels)


def department_service(service: ServiceConfig, own: DepartmentServiceConfig
                       ) -> ServiceConfig:
    """The `service` section as one department sees it: its own hours, the targets it gives
    and its per-channel entries laid over the service's; the rest is the service's."""
    given = own.model_fields_set
    update: dict[str, Any] = {}
    if "hours" in given:
        update["hours"] = own.hours
    if "targets" in given:
        update["targets"] = service.targets.model_copy(update={
            name: getattr(own.targets, name) for name in own.targets.model_fields_set})
    if "per_channel" in given:
        update["per_channel"] = {**service.per_channel, **own.per_channel}
    return service.model_copy(update=update)


def sla_policy(service: ServiceConfig, admins: list[int],
               departments: Mapping[str, DepartmentServiceConfig] | None = None
               ) -> SlaPolicy:
    """The core's view of the `service` section; `departments`: those with their own hours,
    targets or per-channel entries (by id)."""
    levels = _levels(service)
    ack = service.acknowledgement
    return SlaPolicy(
        default=levels.default, per_channel=levels.per_channel,
        per_department={
            department: _levels(department_service(service, own))
            for department, own in (departments or {}).items() if own.own_service_levels()},
        ack=AckSettings(ack.enabled, ack.quiet, ack.default_language),
        on_duty=tuple(service.on_duty), admins=tuple(admins),
        texts=ack.texts, timezone_names=ack.timezone_names,
        title_debounce=service.title_debounce,
    )

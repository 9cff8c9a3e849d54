"""The acknowledgement a customer gets: when, honestly, a human will reply.

Inside hours: "within 15 minutes". When the deadline falls after closing: "by 09:30 tomorrow".
Outside hours: "tomorrow from 09:00 (Moscow time)". Russian and English are shipped; config
may override any template per language (jinja2, sandboxed, HTML-autoescaped).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from core.sla.policy import SlaPolicy

ACK_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "ack_open": "Thanks for your message! An operator will reply within {{ wait }}.",
        "ack_later": "Thanks for your message! An operator will reply {{ day }} by {{ time }} "
        "({{ zone }}).",
        "ack_closed": "Thanks for your message! We are offline now; an operator will reply "
        "{{ day }} from {{ time }} ({{ zone }}).",
    },
    "ru": {
        "ack_open": "Спасибо за сообщение! Оператор ответит в течение {{ wait }}.",
        "ack_later": "Спасибо за сообщение! Оператор ответит {{ day }} до {{ time }} "
        "({{ zone }}).",
        "ack_closed": "Спасибо за сообщение! Сейчас мы не работаем; оператор ответит "
        "{{ day }} с {{ time }} ({{ zone }}).",
    },
}
LANGUAGES = tuple(ACK_TEMPLATES)
TEMPLATE_NAMES = tuple(ACK_TEMPLATES["en"])

_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_RU_DAYS = ("в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу",
            "в воскресенье")
_ZONE_NAMES = {"ru": {"Europe/Moscow": "по московскому времени"}}

_env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def check_template(source: str) -> None:
    """Raise jinja2's TemplateSyntaxError for a template that can't be compiled."""
    _env.from_string(source)


def language_of(code: str | None, policy: SlaPolicy) -> str:
    """`en-US` → `en`; a language without texts falls back to the configured default."""
    lang = (code or "").split("-")[0].lower()
    if lang in ACK_TEMPLATES or lang in policy.texts:
        return lang
    return policy.ack.default_language


def acknowledgement(policy: SlaPolicy, channel: str, language: str | None, now: datetime,
                    target: timedelta | None = None, department: str | None = None) -> str:
    """The HTML text that tells the customer when to expect a human (within `target`, the
    running response target; the first-response target by default), by the hours of the
    conversation's channel and department."""
    lang = language_of(language, policy)
    chan = policy.channel(channel, department)
    target = target or chan.targets.first_response or timedelta(hours=1)
    due = chan.clock.add_open_time(now, target)
    zone = chan.hours.zone
    values: dict[str, str] = {"wait": human_duration(target, lang),
                              "zone": zone_name(zone, lang, policy.timezone_names)}
    if due == now + target:
        name = "ack_open"
    elif chan.clock.is_open(now):
        name = "ack_later"
        values.update(day=day_word(now, due, zone, lang), time=_hhmm(due, zone))
    else:
        opens = chan.clock.next_open(now)
        name = "ack_closed"
        values.update(day=day_word(now, opens, zone, lang), time=_hhmm(opens, zone))
    source = _template(policy.texts, lang, name)
    return _env.from_string(source).render(**values)


def _template(overrides: Mapping[str, Mapping[str, str]], lang: str, name: str) -> str:
    own = overrides.get(lang, {})
    if name in own:
        return own[name]
    return ACK_TEMPLATES.get(lang, ACK_TEMPLATES["en"])[name]


def _hhmm(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


def day_word(now: datetime, at: datetime, zone: ZoneInfo, lang: str) -> str:
    today, day = now.astimezone(zone).date(), at.astimezone(zone).date()
    delta = (day - today).days
    ru = lang == "ru"
    if delta <= 0:
        return "сегодня" if ru else "today"
    if delta == 1:
        return "завтра" if ru else "tomorrow"
    if delta < 7:
        return _RU_DAYS[day.weekday()] if ru else f"on {_EN_DAYS[day.weekday()]}"
    return day.strftime("%d.%m.%Y") if ru else f"on {day.isoformat()}"


def zone_name(zone: ZoneInfo, lang: str, configured: Mapping[str, str]) -> str:
    if lang in configured:
        return configured[lang]
    known = _ZONE_NAMES.get(lang, {}).get(zone.key)
    if known:
        return known
    city = zone.key.rsplit("/", 1)[-1].replace("_", " ")
    return f"время {city}" if lang == "ru" else f"{city} time"


def human_duration(span: timedelta, lang: str) -> str:
    """`15 minutes`, `1 hour 30 minutes`; Russian in the genitive that follows «в течение»
    (`15 минут`, `1 часа`, `2 часов`)."""
    if span < timedelta(minutes=1):  # only shortened test and demo targets are this short
        seconds = max(1, round(span.total_seconds()))
        if lang == "ru":
            single = seconds % 10 == 1 and seconds % 100 != 11
            return f"{seconds} {'секунды' if single else 'секунд'}"
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = max(1, round(span.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = (("day", "дня", "дней", days), ("hour", "часа", "часов", hours),
             ("minute", "минуты", "минут", mins))
    parts = []
    for en, one, many, n in units:
        if not n:
            continue
        if lang == "ru":
            parts.append(f"{n} {one if n % 10 == 1 and n % 100 != 11 else many}")
        else:
            parts.append(f"{n} {en}{'' if n == 1 else 's'}")
    return " ".join(parts)

"""SLA policy without a database: deadlines across weekends, holidays, time zones and DST;
acknowledgement texts inside and outside hours in both languages; snooze and report maths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.sla.ack import acknowledgement, human_duration, language_of
from core.sla.controls import parse_snooze
from core.sla.hours import WorkingHours
from core.sla.policy import AckSettings, ChannelPolicy, SlaPolicy, TargetKind, Targets
from core.sla.ports import ConversationRecord, DeadlineRecord
from core.sla.reports import compute, percentile, period_bounds, render

MSK = ZoneInfo("Europe/Moscow")
HOURS = WorkingHours.parse("Europe/Moscow", {"mon-fri": "09:00-18:00"}, holidays=["2026-12-31"])
POLICY = SlaPolicy(
    default=ChannelPolicy(HOURS, Targets(timedelta(hours=1), timedelta(hours=1),
                                         timedelta(days=1))),
    per_channel={"telegram": ChannelPolicy(HOURS, Targets(first_response=timedelta(minutes=15)),
                                           remind_before=timedelta(minutes=5))},
    ack=AckSettings(default_language="ru"),
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_first_response_deadline_inside_hours_and_reminder() -> None:
    [d] = POLICY.deadlines("telegram", (TargetKind.FIRST_RESPONSE,), utc(2026, 11, 26, 9))
    assert d.due_at == utc(2026, 11, 26, 9, 15)
    assert d.remind_at == utc(2026, 11, 26, 9, 10)


def test_deadline_over_the_weekend_and_a_holiday() -> None:
    # Fri 17:50 MSK + 1h business time → Mon 09:50 MSK
    [d] = POLICY.deadlines("vk", (TargetKind.FIRST_RESPONSE,), utc(2026, 11, 27, 14, 50))
    assert d.due_at == utc(2026, 11, 30, 6, 50)
    # Wed 30 Dec 17:30 + 1h: 31 Dec is off, Fri 1 Jan 09:30
    [d] = POLICY.deadlines("vk", (TargetKind.FIRST_RESPONSE,), utc(2026, 12, 30, 14, 30))
    assert d.due_at == utc(2027, 1, 1, 6, 30)


def test_around_the_clock_targets_ignore_hours() -> None:
    policy = ChannelPolicy(HOURS, Targets(business_hours=False))
    sat = utc(2026, 11, 28, 23)
    assert policy.due(TargetKind.FIRST_RESPONSE, sat) == sat + timedelta(hours=1)


def test_deadline_across_a_dst_change() -> None:
    berlin = WorkingHours.parse("Europe/Berlin", {"mon-sun": "09:00-18:00"})
    policy = ChannelPolicy(berlin, Targets(first_response=timedelta(hours=2)))
    # Sat 28 Mar 2026 17:00 CET (16:00 UTC) + 2h: 1h Saturday, then Sunday 09:00 CEST
    # (07:00 UTC, clocks went forward overnight) + 1h
    assert policy.due(TargetKind.FIRST_RESPONSE, utc(2026, 3, 28, 16)) == utc(2026, 3, 29, 8)


def test_no_target_means_no_deadline_and_reminder_never_before_start() -> None:
    policy = ChannelPolicy(HOURS, Targets(resolution=None), remind_before=timedelta(hours=2))
    assert policy.due(TargetKind.RESOLUTION, utc(2026, 11, 26, 9)) is None
    due = policy.due(TargetKind.FIRST_RESPONSE, utc(2026, 11, 26, 9))
    assert due is not None and policy.remind_at(utc(2026, 11, 26, 9), due) is None


@pytest.mark.parametrize(
    ("lang", "at", "text"),
    [
        ("en", utc(2026, 11, 26, 9),
         "Thanks for your message! An operator will reply within 15 minutes."),
        ("ru", utc(2026, 11, 26, 9),
         "Спасибо за сообщение! Оператор ответит в течение 15 минут."),
        # Thursday 22:00 MSK: closed until Friday 09:00
        ("en", utc(2026, 11, 26, 19), "Thanks for your message! We are offline now; an "
         "operator will reply tomorrow from 09:00 (Moscow time)."),
        ("ru", utc(2026, 11, 26, 19), "Спасибо за сообщение! Сейчас мы не работаем; оператор "
         "ответит завтра с 09:00 (по московскому времени)."),
        # Saturday: Monday morning
        ("en", utc(2026, 11, 28, 10), "Thanks for your message! We are offline now; an "
         "operator will reply on Monday from 09:00 (Moscow time)."),
        ("ru", utc(2026, 11, 28, 10), "Спасибо за сообщение! Сейчас мы не работаем; оператор "
         "ответит в понедельник с 09:00 (по московскому времени)."),
        # Friday 17:55 MSK: open, but 15 min of open time end on Monday
        ("en", utc(2026, 11, 27, 14, 55), "Thanks for your message! An operator will reply "
         "on Monday by 09:10 (Moscow time)."),
        # Monday 06:00 MSK: today
        ("en", utc(2026, 11, 30, 3), "Thanks for your message! We are offline now; an "
         "operator will reply today from 09:00 (Moscow time)."),
    ],
)
def test_acknowledgement_texts(lang: str, at: datetime, text: str) -> None:
    assert acknowledgement(POLICY, "telegram", lang, at) == text


def test_language_falls_back_to_default_and_overrides_apply() -> None:
    assert language_of("en-US", POLICY) == "en"
    assert language_of("de", POLICY) == "ru"
    assert language_of(None, POLICY) == "ru"
    custom = SlaPolicy(POLICY.default, POLICY.per_channel,
                       texts={"en": {"ack_open": "Hi <b>{{ wait }}</b>!"}})
    assert acknowledgement(custom, "telegram", "en", utc(2026, 11, 26, 9)) == \
        "Hi <b>15 minutes</b>!"


def test_human_durations() -> None:
    assert human_duration(timedelta(hours=1, minutes=30), "en") == "1 hour 30 minutes"
    assert human_duration(timedelta(hours=1), "ru") == "1 часа"
    assert human_duration(timedelta(minutes=21), "ru") == "21 минуты"
    assert human_duration(timedelta(hours=5), "ru") == "5 часов"
    assert human_duration(timedelta(days=2), "en") == "2 days"


def test_acknowledge_once_per_local_day_and_not_right_after_an_answer() -> None:
    now = utc(2026, 11, 26, 9)
    assert POLICY.should_acknowledge(None, None, now, "telegram")
    assert not POLICY.should_acknowledge(now - timedelta(hours=3), None, now, "telegram")
    # 23:30 MSK yesterday is another local day (20:30 UTC)
    assert POLICY.should_acknowledge(utc(2026, 11, 25, 20, 30), None, now, "telegram")
    assert not POLICY.should_acknowledge(None, now - timedelta(minutes=2), now, "telegram")
    assert POLICY.should_acknowledge(None, now - timedelta(minutes=20), now, "telegram")


def test_snooze_parsing() -> None:
    now = utc(2026, 11, 26, 9)  # 12:00 MSK
    assert parse_snooze("2h", now, MSK) == now + timedelta(hours=2)
    assert parse_snooze("1h30m", now, MSK) == now + timedelta(minutes=90)
    assert parse_snooze("18:30", now, MSK) == utc(2026, 11, 26, 15, 30)
    assert parse_snooze("10:00", now, MSK) == utc(2026, 11, 27, 7)  # already past today
    assert parse_snooze("tomorrow 10:00", now, MSK) == utc(2026, 11, 27, 7)
    assert parse_snooze("soon", now, MSK) is None
    assert parse_snooze("", now, MSK) is None


def test_report_from_a_seeded_history() -> None:
    t0 = utc(2026, 11, 26, 6)
    minutes = [2, 4, 6, 8, 10, 12, 14, 16, 18, 60]
    convs = [ConversationRecord(i, "telegram" if i < 8 else "vk", "7" if i % 2 else "8",
                                t0 + timedelta(minutes=i), t0 + timedelta(minutes=i + m),
                                t0 + timedelta(minutes=i + 120) if i < 4 else None)
             for i, m in enumerate(minutes)]
    deadlines = [DeadlineRecord(c.id, c.channel, "first_response", c.opened_at,
                                c.opened_at + timedelta(minutes=15), c.first_response_at,
                                c.assignee_id, (c.first_response_at - c.opened_at)  # type: ignore[operator]
                                > timedelta(minutes=15)) for c in convs]
    deadlines.append(DeadlineRecord(99, "vk", "next_response", t0, t0 + timedelta(hours=1),
                                    None, None, False))  # still running: not counted
    report = compute("today", t0, t0 + timedelta(hours=5), convs, deadlines, MSK)
    total = report.total
    assert total.conversations == 10
    assert total.first_response_median == timedelta(minutes=11)
    assert total.first_response_p90 == timedelta(minutes=18)
    assert total.resolution_median == timedelta(minutes=120)
    assert (total.met, total.decided) == (7, 10)
    assert report.per_channel["vk"].conversations == 2
    assert report.per_channel["vk"].hit_rate == 0.0
    assert report.per_operator["7"].conversations == 5
    assert report.per_operator["8"].met == 4
    assert report.first_response_by_hour == {9: timedelta(minutes=11)}
    html = render(report, MSK, {"7": "Olga <x>"})
    assert "SLA hit rate: 70% (7/10)" in html and "Olga &lt;x&gt;" in html
    assert "median 11 minutes, p90 18 minutes" in html


def test_percentile_and_periods() -> None:
    assert percentile([], 0.9) is None
    assert percentile([timedelta(seconds=s) for s in range(1, 101)], 0.9) == timedelta(seconds=90)
    now = utc(2026, 11, 26, 9)
    assert period_bounds("today", now, MSK) == (utc(2026, 11, 25, 21), now)
    assert period_bounds("week", now, MSK)[0] == now - timedelta(days=7)


def test_chart_is_a_valid_png() -> None:
    import struct
    import zlib

    from core.sla.chart import report_chart

    png = report_chart({9: timedelta(minutes=12), 14: timedelta(minutes=40)},
                       {"TG": 0.9, "VK": 0.5}, {"OLGA": 1.0, "?": 0.25})
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (640, 420)
    idat_len = struct.unpack(">I", png[33:37])[0]
    raw = zlib.decompress(png[41:41 + idat_len])
    assert len(raw) == height * (1 + width * 3)
    assert bytes((66, 133, 244)) in raw  # the first-response bars are drawn

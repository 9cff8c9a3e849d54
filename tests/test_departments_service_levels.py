"""A department's own service levels end to end (SQLite and PostgreSQL): its `targets` and
`hours` are laid over the `service` section for its conversations only. The real App and
aiogram client against the emulator; targets shortened to seconds, the assertions wait for
posts, they never time them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from storage import models as db
from tests.harness import Desk, StartRelay
from tests.test_departments import (
    SALES,
    TECH,
    _choose,
    _departments,
    _groups,
    _operator_in,
    _topic_in,
)

SERVICE = """
service:
  targets: {first_response: 1h, next_response: 1h, business_hours: false}
  remind_before: 5s  # sales (6s) is reminded 1s in: a wide window for the sweep
  sweep_interval: 200ms
  title_debounce: 300ms
  daily_report: "off"
"""
QUESTION = "Hello! Please choose who can help you:"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text") or m.get("caption") or "")


def _with_sales(sales: int, tech: int, own: str) -> str:
    """The two departments, sales with its own service levels (`own`, YAML at its indent)."""
    return _departments(sales, tech).replace(f"chat_id: {sales}\n",
                                             f"chat_id: {sales}\n    {own}\n")


async def _routed(desk: Desk, name: str, text: str, department: str) -> Any:
    customer = desk.customer(name)
    await customer.says(text)
    await _choose(desk, customer, await customer.receives(QUESTION), department)
    return customer


async def _first_response(department: str) -> db.SlaDeadline:
    conversation = await db.Conversation.get(department=department)
    return await db.SlaDeadline.get(conversation_id=conversation.id, kind="first_response")


def _target_of(deadline: db.SlaDeadline) -> timedelta:
    return timedelta(microseconds=deadline.due_us - deadline.started_us)


async def test_a_department_with_a_shorter_target_is_reminded_on_its_own_schedule(
        desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    await start_relay(SERVICE + _with_sales(sales, tech, "targets: {first_response: 6s}"))
    anna = await _routed(desk, "Anna", "can I pay by invoice?", SALES)
    boris = await _routed(desk, "Boris", "the app crashes", TECH)
    # Each is told the wait of their own department.
    await anna.receives("Thanks for your message! An operator will reply within 6 seconds.")
    await boris.receives("Thanks for your message! An operator will reply within 1 hour.")
    in_sales = await _topic_in(desk, sales, "can I pay by invoice?")
    in_tech = await _topic_in(desk, tech, "the app crashes")

    def posts(group: int, topic: int | None, mark: str) -> list[dict[str, Any]]:
        return [m for m in desk.emu.messages(group) if _text(m).startswith(mark)
                and m.get("from", {}).get("is_bot") and m.get("message_thread_id") == topic]

    # Sales: reminded, then escalated in its own group, by its own 6-second target.
    await desk.wait(lambda: posts(sales, in_sales, "⏰"))
    await desk.wait(lambda: posts(sales, None, "🚨"))
    assert "first response" in _text(posts(sales, None, "🚨")[0])
    # Tech keeps the service's hour: the sweeps that escalated sales left it alone.
    assert not posts(tech, in_tech, "⏰") and not posts(tech, None, "🚨")
    assert _target_of(await _first_response("sales")) == timedelta(seconds=6)
    tech_deadline = await _first_response("tech")
    assert _target_of(tech_deadline) == timedelta(hours=1)
    assert not tech_deadline.reminded and not tech_deadline.breached


CANNED = """
canned:
  opening:
    en: "We open at {{ next_opening }}."
"""


def _closed_today_and_tomorrow() -> tuple[str, datetime]:
    """Sales hours closed today and tomorrow (UTC), so it is closed now whenever the test
    runs, even across midnight; open 09:00-18:00 on the other days. And when it opens."""
    now = datetime.now(UTC)
    closed = {now.weekday(), (now.weekday() + 1) % 7}
    hours = ", ".join(f"{day}: {'closed' if n in closed else '09:00-18:00'}"
                      for n, day in enumerate(DAYS))
    opens = (now + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    return f"hours: {{{hours}}}", opens


async def test_a_department_closed_now_acknowledges_off_hours_the_other_as_usual(
        desk: Desk, start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    service = SERVICE.replace("business_hours: false", "business_hours: true")
    hours, opens = _closed_today_and_tomorrow()
    await start_relay(service + CANNED + _with_sales(sales, tech, hours))
    anna = await _routed(desk, "Anna", "a quote for 10 seats, please", SALES)
    boris = await _routed(desk, "Boris", "login fails", TECH)
    await boris.receives("Thanks for your message! An operator will reply within 1 hour.")

    def offline() -> list[str]:
        return [_text(m) for m in anna.inbox()
                if _text(m).startswith("Thanks for your message! We are offline now; an "
                                       "operator will reply on ")]

    await desk.wait(offline)
    assert offline()[0].endswith(" from 09:00 (UTC time).")
    assert not any("within" in _text(m) for m in anna.inbox())
    # Sales's clock counts its own open time: its hour ends on an open day, after 09:00.
    sales_deadline = await _first_response("sales")
    due = datetime.fromtimestamp(sales_deadline.due_us / 1e6, UTC)
    assert _target_of(sales_deadline) > timedelta(days=1)
    assert due.hour == 10 and due.minute == 0
    assert _target_of(await _first_response("tech")) == timedelta(hours=1)
    # A canned reply's next_opening is the department's too.
    await _operator_in(desk, sales, "Sofia").says(
        await _topic_in(desk, sales, "a quote for 10 seats, please"), "/t opening")
    await anna.receives(f"We open at {opens.strftime('%H:%M %d.%m')}.")
    await _operator_in(desk, tech, "Timur").says(await _topic_in(desk, tech, "login fails"),
                                                 "/t opening")
    await desk.wait(lambda: any(_text(m).startswith("We open at ") for m in boris.inbox()))
    assert f"We open at {opens.strftime('%H:%M %d.%m')}." not in map(_text, boris.inbox())

"""Service levels per department (SQLite and PostgreSQL): a reminder mentions the
department's on-duty operators, an escalation goes to its own group's General topic, the
status mark lands on the topic in its group; `/report` answers in the group it was asked in."""

from __future__ import annotations

from typing import Any

from tests.harness import Desk, StartRelay
from tests.test_departments import _departments, _groups, _operator_in, _topic_in
from tests.test_sla_e2e import SERVICE


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text") or m.get("caption") or "")


def _general(desk: Desk, group: int, prefix: str) -> list[dict[str, Any]]:
    return [m for m in desk.emu.messages(group) if m.get("from", {}).get("is_bot")
            and not m.get("message_thread_id") and _text(m).startswith(prefix)]


def _mentioned(message: dict[str, Any]) -> set[int]:
    return {int(e["user"]["id"]) for e in message.get("entities", [])
            if e["type"] == "text_mention"}


async def test_reminders_and_escalations_per_department(desk: Desk,
                                                        start_relay: StartRelay) -> None:
    sales, tech = _groups(desk)
    timur = _operator_in(desk, tech, "Timur")
    extra = _departments(sales, tech, ask=False).replace(
        f"chat_id: {tech}\n", f"chat_id: {tech}\n    on_duty: [{timur.user.id}]\n")
    await start_relay(SERVICE + extra)
    anna = desk.customer("Anna")
    await anna.says("nothing works")
    topic = await _topic_in(desk, tech, "nothing works")

    def reminders() -> list[dict[str, Any]]:
        return [m for m in desk.emu.messages(tech, thread_id=topic)
                if m.get("from", {}).get("is_bot") and _text(m).startswith("⏰")]

    await desk.wait(reminders)
    # The team's on-duty, not the service's (4242).
    assert _mentioned(reminders()[0]) == {int(timur.user.id)}
    await desk.wait(lambda: _general(desk, tech, "🚨"))
    assert "#1" in _text(_general(desk, tech, "🚨")[0])
    assert not _general(desk, desk.group, "🚨") and not _general(desk, sales, "🚨")
    await desk.wait(lambda: any(t["message_thread_id"] == topic and t["name"].startswith("🔴")
                                for t in desk.emu.topics(tech)))
    # /report typed in a department's General is answered there.
    await timur.says(None, "/report today")  # type: ignore[arg-type]
    await desk.wait(lambda: _general(desk, tech, "🏷 Technical support"))
    [report] = _general(desk, tech, "🏷 Technical support")
    assert "Report: today" in _text(report) and "Conversations: 1" in _text(report)
    assert not _general(desk, desk.group, "📊")

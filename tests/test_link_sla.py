"""`/link` with service levels on: the conversation `/link` closes is closed like any other.

Two Telegram customers wait for a first answer. An operator links them from the first
topic (the same person on two accounts): that conversation continues, the other is closed
with a pointer to it. The closed one must then get no ⏰ reminder, must not be listed in the
🚨 escalation, and its topic is closed and keeps its title (no 🟡/🔴 mark set later).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.harness import Desk, StartRelay

SERVICE = """
service:
  targets: {first_response: 3s, next_response: 3s, business_hours: false}
  remind_before: 2s
  sweep_interval: 200ms
  title_debounce: 1500ms
  daily_report: "off"
"""


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text") or "")


def _general(desk: Desk, prefix: str) -> list[dict[str, Any]]:
    return [m for m in desk.messages() if m.get("from", {}).get("is_bot")
            and not m.get("message_thread_id") and _text(m).startswith(prefix)]


def _topic(desk: Desk, topic: int) -> dict[str, Any]:
    return next(t for t in desk.topics() if t["message_thread_id"] == topic)


async def test_the_conversation_link_closes_is_no_longer_chased(
    desk: Desk, start_relay: StartRelay
) -> None:
    await start_relay(SERVICE)
    olga = desk.operator("Olga")
    await desk.customer("Anna").says("hello from my phone")
    here = await desk.topic_with("hello from my phone")
    await desk.customer("Anna Work").says("hello from my laptop")
    there = await desk.topic_with("hello from my laptop")
    number = _topic(desk, there)["name"].rsplit("#", 1)[1]  # the other customer's number
    await olga.says(here, f"/link {number}")
    await desk.wait(lambda: any(_text(m).startswith("🔗") for m in desk.bot_posts(there)))
    # The first-response target (3 s) passes for the conversation that goes on.
    await desk.wait(lambda: _general(desk, "🚨"), timeout=15)
    await asyncio.sleep(0.6)  # three more sweeps
    escalation = _text(_general(desk, "🚨")[0])
    assert "#1" in escalation and "#2" not in escalation, escalation
    assert len(_general(desk, "🚨")) == 1
    assert any(_text(m).startswith("⏰") for m in desk.bot_posts(here))
    assert not any(_text(m).startswith("⏰") for m in desk.bot_posts(there))
    assert _topic(desk, there).get("closed"), "the closed conversation's topic is closed"
    await desk.wait(lambda: _topic(desk, here)["name"].startswith("🔴"))  # renames done
    assert not _topic(desk, there)["name"].startswith(("🟡", "🔴"))

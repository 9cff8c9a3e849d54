"""Service levels end to end: the running bot schedules the sweep (short interval from config)
and the real aiogram client talks to the Telegram emulator. Targets are shortened to seconds;
the assertions wait for posts, they never time them."""

from __future__ import annotations

from typing import Any

from tests.harness import Desk, StartRelay

SERVICE = """
service:
  targets: {first_response: 3s, next_response: 3s, business_hours: false}
  remind_before: 2s
  on_duty: [4242]
  sweep_interval: 200ms
  title_debounce: 300ms
  daily_report: "off"
"""


def _text(m: dict[str, Any]) -> str:
    return str(m.get("text") or "")


def _general(desk: Desk, prefix: str) -> list[dict[str, Any]]:
    return [m for m in desk.messages() if m.get("from", {}).get("is_bot")
            and not m.get("message_thread_id") and _text(m).startswith(prefix)]


async def test_ack_reminder_and_escalation_from_the_scheduled_sweep(
    desk: Desk, start_relay: StartRelay
) -> None:
    boss = desk.operator("Boss")
    app = await start_relay(SERVICE, admins=[int(boss.user.id)])
    anna = desk.customer("Anna", language_code="ru")
    await anna.says("hello")
    await anna.receives("Спасибо за сообщение! Оператор ответит в течение 3 секунд.")
    topic = await desk.topic_with("hello")
    await desk.wait(lambda: any(_text(m).startswith("⏰") for m in desk.bot_posts(topic)))
    await desk.wait(lambda: _general(desk, "🚨"))
    [post] = _general(desk, "🚨")
    assert "#1" in _text(post) and "first response" in _text(post)
    assert any(e["type"] == "text_mention" and e["user"]["id"] == boss.user.id
               for e in post.get("entities", []))
    services = app.services
    assert services is not None and services.sla_jobs is not None
    assert services.sla_jobs.runs.get("sla-sweep", 0) >= 2
    reminders = [m for m in desk.bot_posts(topic) if _text(m).startswith("⏰")]
    assert len(reminders) == 1  # once per deadline, however many sweeps ran
    # The topic title shows the status: overdue.
    await desk.wait(lambda: any(t["message_thread_id"] == topic and t["name"].startswith("🔴")
                                for t in desk.topics()))


async def test_operator_answer_stops_the_clock_and_commands_work(
    desk: Desk, start_relay: StartRelay
) -> None:
    app = await start_relay(SERVICE.replace("3s, next_response: 3s", "2s, next_response: 1h"))
    bob = desk.customer("Bob")
    olga = desk.operator("Olga")
    await bob.says("question")
    await bob.receives("Thanks for your message! An operator will reply within 2 seconds.")
    topic = await desk.topic_with("question")
    await olga.says(topic, "/take")
    await desk.wait(lambda: any(_text(m).startswith("🙋 Olga took")
                                for m in desk.bot_posts(topic)))
    await olga.says(topic, "answer")
    await bob.receives("answer")
    await olga.says(topic, "/snooze 1h")
    await desk.wait(lambda: any(_text(m).startswith("💤") for m in desk.bot_posts(topic)))
    await desk.emu.user_send(olga.user, desk.group, text="/report today")
    await desk.wait(lambda: _general(desk, "📊"))
    report = _text(_general(desk, "📊")[0])
    assert "Conversations: 1" in report and "SLA hit rate: 100% (1/1)" in report
    assert not _general(desk, "🚨")  # answered in time: nothing escalated
    # The daily report (its job calls this at daily_report): the text, then a PNG chart.
    assert app.services is not None
    await app.services.controls.report("today", chart=True)
    await desk.wait(lambda: any("photo" in m for m in desk.messages()
                                if m.get("from", {}).get("is_bot")))
    photo = next(m for m in desk.messages() if "photo" in m)
    assert photo.get("caption", "").startswith("📈 today")
    assert len(_general(desk, "📊")) == 2


async def test_card_buttons_take_snooze_close_reopen(desk: Desk, start_relay: StartRelay) -> None:
    await start_relay(SERVICE)
    cleo = desk.customer("Cleo")
    olga = desk.operator("Olga")
    await cleo.says("help")
    topic = await desk.topic_with("help")
    card = desk.bot_posts(topic)[0]
    assert "Customer #" in _text(card)

    async def press(data: str, notice: str) -> None:
        query = await desk.emu.user_press_button(olga.user, desk.group, card["message_id"],
                                                 data)
        await desk.wait(lambda: any(_text(m).startswith(notice)
                                    for m in desk.bot_posts(topic)))
        await desk.wait(lambda: desk.emu.callback_answer(query) is not None)

    await press("rd:take", "🙋 Olga took")
    await press("rd:snooze", "💤 Snoozed by Olga")
    await press("rd:close", "✅ Conversation #1 closed")
    await press("rd:reopen", "🔓 Conversation #1 reopened")

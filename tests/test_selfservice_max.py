"""Self-service on MAX (SQLite and PostgreSQL): the bot's answer carries an inline keyboard
of callback buttons; a press comes as message_callback and is answered with POST /answers."""

from __future__ import annotations

from typing import Any

from storage import models as db
from tests.harness import Desk
from tests.max_harness import MaxCustomer, MaxSide, StartMaxRelay
from tests.test_selfservice import FAQ
from tests.vk_harness import bot_texts

PARKING_RU = "Парковка во дворе, 150 ₽/час."


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    [board] = [a for a in message["body"]["attachments"] if a["type"] == "inline_keyboard"]
    return [b for row in board["payload"]["buttons"] for b in row]


async def _press(maxb: MaxSide, customer: MaxCustomer, message: dict[str, Any],
                 label: str) -> dict[str, Any]:
    button = next(b for b in _buttons(message) if b["text"] == label)
    callback_id = maxb.emu.user_press(customer.user, message["body"]["mid"],
                                      button["payload"])
    await maxb.emu.wait_for(lambda: any(a["callback_id"] == callback_id
                                        for a in maxb.emu.answers()), 10, "press answered")
    return next(a for a in maxb.emu.answers() if a["callback_id"] == callback_id)


async def test_max_answer_closed_by_that_helped(desk: Desk, maxb: MaxSide,
                                                start_max_relay: StartMaxRelay) -> None:
    await start_max_relay(FAQ)
    ivan = maxb.customer("Иван", "Петров")
    ivan.says("Здравствуйте! Где у вас можно оставить машину?")
    answer = await ivan.receives(PARKING_RU)
    buttons = _buttons(answer)
    assert [b["text"] for b in buttons] == ["✅ Помогло", "🙋 Позвать человека"]
    assert all(b["type"] == "callback" for b in buttons)
    assert (await _press(maxb, ivan, answer, "✅ Помогло"))["notification"] == "Готово"
    await ivan.receives("Рад, что помог! Если появится другой вопрос — пишите.")
    conversation = await db.Conversation.all().order_by("-id").first()
    assert conversation is not None and conversation.close_reason == "self_served"
    assert not desk.topics()


async def test_max_talk_to_a_person_hands_over(desk: Desk, maxb: MaxSide,
                                               start_max_relay: StartMaxRelay) -> None:
    await start_max_relay(FAQ)
    ivan = maxb.customer("Иван", "Петров")
    ivan.says("где припарковать машину?")
    answer = await ivan.receives(PARKING_RU)
    await _press(maxb, ivan, answer, "🙋 Позвать человека")
    await maxb.emu.wait_for(lambda: any(t.startswith("🙋") for t in ivan.texts()), 10)
    await desk.wait(lambda: len(desk.topics()) == 1)
    topic = desk.topics()[0]["message_thread_id"]
    await desk.wait(lambda: any("Handed over: the customer pressed 🙋" in t
                                for t in bot_texts(desk, topic)))
    context = next(t for t in bot_texts(desk, topic) if "Handed over" in t)
    assert "где припарковать машину?" in context
    [info] = [t for t in desk.topics() if t["message_thread_id"] == topic]
    assert info["name"].startswith("Иван Петров · MAX · #")
    assert "Иван Петров" in bot_texts(desk, topic)[0]

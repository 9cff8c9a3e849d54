"""Buttons under the bot's messages to customers, and their presses, on Telegram and VK.

A capability queues a text with choices and registers the prefix of their payloads; a press
comes back through the customer's channel to its handler, whose answer the platform shows.
"""

from __future__ import annotations

import json
from typing import Any

from bots.app import App
from core.model import Choice, InboundPress
from tests.harness import Desk
from tests.vk_harness import VkSide

CHOICES = [[Choice("✅ Yes", "t:yes")], [Choice("🙋 No, a person", "t:no")]]


def _register(app: App) -> list[InboundPress]:
    services = app.services
    assert services is not None
    pressed: list[InboundPress] = []

    async def handler(press: InboundPress) -> str:
        pressed.append(press)
        return f"noted: {press.payload}"

    services.presses.register("t", handler)
    return pressed


async def _ask(app: App, channel: str, chat_id: str) -> None:
    services = app.services
    assert services is not None
    await services.transactions.run(lambda unit: services.queue.text_to_customer(
        unit, channel, chat_id, "Did that help? &lt;b&gt;&amp;&lt;3", CHOICES))


async def test_telegram_customer_presses_a_button(desk: Desk, relay: App) -> None:
    pressed = _register(relay)
    anna = desk.customer("Anna")
    await anna.says("hello")
    await _ask(relay, "telegram", str(anna.id))
    asked = await anna.receives("Did that help? <b>&<3")
    rows = asked["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [["✅ Yes"], ["🙋 No, a person"]]
    query = await desk.emu.user_press_button(anna.user, anna.id, asked["message_id"], "t:yes")
    await desk.wait(lambda: desk.emu.callback_answer(query) is not None)
    assert [(p.channel, p.chat_id, p.payload) for p in pressed] == [
        ("telegram", str(anna.id), "t:yes")]
    assert desk.emu.callback_answer(query)["text"] == "noted: t:yes"
    # A button nobody handles (one of a capability since removed): answered, nothing else.
    services = relay.services
    assert services is not None
    await services.transactions.run(lambda unit: services.queue.text_to_customer(
        unit, "telegram", str(anna.id), "old", [[Choice("old", "gone:1")]]))
    old = await anna.receives("old")
    stale = await desk.emu.user_press_button(anna.user, anna.id, old["message_id"], "gone:1")
    await desk.wait(lambda: desk.emu.callback_answer(stale) is not None)
    assert len(pressed) == 1


async def test_vk_customer_presses_a_callback_button(desk: Desk, vk: VkSide,
                                                     vk_relay: App) -> None:
    pressed = _register(vk_relay)
    ivan = vk.customer("Ivan")
    await ivan.says("hello")
    await _ask(vk_relay, "vk", str(ivan.id))
    asked = await ivan.receives("Did that help? <b>&<3")
    board: Any = asked["keyboard"]
    labels = [[b["action"]["label"] for b in row] for row in board["buttons"]]
    assert labels == [["✅ Yes"], ["🙋 No, a person"]] and board["inline"]
    payload = board["buttons"][0][0]["action"]["payload"]
    event = await vk.emu.user_press_button(ivan.user, vk.club, payload)
    await vk.emu.wait_for(lambda: vk.emu.event_answer(vk.club, event["event_id"]) is not None,
                          10, "the press is answered")
    assert [(p.channel, p.payload) for p in pressed] == [("vk", "t:yes")]
    answer = vk.emu.event_answer(vk.club, event["event_id"])
    assert answer == {"type": "show_snackbar", "text": "noted: t:yes"}
    # A client without callback buttons sends the label as a message with the payload.
    await ivan.says("🙋 No, a person", payload=json.loads(
        board["buttons"][1][0]["action"]["payload"]))
    await vk.emu.wait_for(lambda: len(pressed) == 2, 10, "the text button's press")
    assert pressed[1].payload == "t:no"
    assert not any("No, a person" in str(m.get("text")) for m in desk.messages())

"""The self-service bot in the widget: its answers and buttons reach the page, a press comes
back as the core's InboundPress, and a hand-over opens the topic (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.harness import Desk
from tests.test_selfservice import FAQ, HELPED, PARKING_EN, PERSON, SERVICE
from tests.web_harness import StartSite, until


async def test_the_bot_answers_in_the_widget_and_hands_over(start_site: StartSite,
                                                            desk: Desk) -> None:
    site = await start_site(extra=FAQ + SERVICE)
    visitor = await site.visitor()
    tab = await visitor.tab()
    await tab.says("where can I park")
    answer = await tab.receives(PARKING_EN, kind="bot")  # its markup shown as text
    labels = [c["label"] for row in answer["choices"] for c in row]
    assert labels == [HELPED, PERSON]
    assert not [t for t in desk.topics() if "Visitor" in t["name"]]  # the bot holds it

    # A made-up payload, or one under another event, is refused.
    refused = await tab.send({"type": "press", "event": answer["id"], "payload": "ss:helped:99"})
    assert refused["code"] == "no_such_button"
    person = next(c["payload"] for row in answer["choices"] for c in row
                  if c["label"] == PERSON)
    pressed = await tab.send({"type": "press", "event": answer["id"], "payload": person})
    assert pressed["type"] == "pressed"
    await until(lambda: any("Visitor" in t["name"] for t in desk.topics()))
    [topic] = [t["message_thread_id"] for t in desk.topics() if "Visitor" in t["name"]]
    await desk.wait(lambda: any("talked to the bot" in (m.get("text") or "")
                                for m in desk.bot_posts(topic)))
    await desk.operator("Olga").says(topic, "A person here")
    await tab.receives("A person here")
    await tab.close()


SERVICE_WEB = """
service:
  targets: {first_response: 1h, next_response: 1h, business_hours: false}
  per_channel: {web: {first_response: 20m, business_hours: false}}
  sweep_interval: 200ms
  title_debounce: "off"
  daily_report: "off"
"""


async def test_the_web_channel_has_its_own_response_target(start_site: StartSite,
                                                           desk: Desk) -> None:
    site = await start_site(extra=SERVICE_WEB)
    tab = await (await site.visitor()).tab()
    await tab.says("is anyone there?")
    await until(lambda: any(e["kind"] == "bot" for e in tab.events))
    [ack] = [e["text"] for e in tab.events if e["kind"] == "bot"]
    assert ack.startswith("Thanks for your message!") and "20 minutes" in ack, ack
    await tab.close()

"""The web channel end to end: a visitor's page (HTTP + WebSocket) ↔ the operator topic, on
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.web.tokens import visitor_number
from tests.harness import Desk
from tests.web_harness import Site, until


async def test_a_visitor_and_an_operator_talk(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    tab = await visitor.tab()
    ack = await tab.says("Hello, is my order shipped?")
    assert ack["type"] == "ack" and ack["id"] > 0
    topic = await desk.topic_with("Hello, is my order shipped?")
    number = visitor_number(visitor.token.split(".")[0])
    [title] = [t["name"] for t in desk.topics() if t["message_thread_id"] == topic]
    assert title == f"Visitor {number} · WEB · #1"
    await desk.wait(lambda: len(desk.bot_posts(topic)) >= 2)
    card = desk.bot_posts(topic)[0]
    assert f"Visitor {number}" in card["text"]
    # The page's details are on the card, and nowhere else.
    assert "Website visitor" in card["text"]
    assert "Page: https://shop.example.com/cart" in card["text"]
    assert "Browser language: en" in card["text"] and "Local time: " in card["text"]
    assert "(UTC+0300)" in card["text"]
    assert not [p for p in desk.bot_posts(topic)[1:] if "Website visitor" in p.get("text", "")]
    # The visitor's own message comes back to the page (other tabs show it too), with the
    # acknowledged id.
    mine = await tab.receives("Hello, is my order shipped?", kind="visitor")
    assert mine["id"] == ack["id"]

    await desk.operator("Olga").says(topic, "Yes, it left today")
    answer = await tab.receives("Yes, it left today")
    assert answer["name"] == "Olga" and answer["id"] > mine["id"]
    await tab.close()


async def test_the_card_shows_the_page_escaped(site: Site, desk: Desk) -> None:
    """Every detail is the visitor's to choose: a hostile page, referrer and language are
    shown as text on the card, and a page that is no web address is left out."""
    visitor = await site.visitor()
    hostile = 'https://shop.example.com/?q=<script>alert(1)</script>&x="y"'
    tab = await visitor.tab(page=hostile, referrer="https://evil.example/<b>bold</b>",
                            lang="<i>en</i>", utc_offset=-300)
    await tab.says("Where is my parcel?")
    topic = await desk.topic_with("Where is my parcel?")
    card = desk.bot_posts(topic)[0]
    assert f"Page: {hostile}" in card["text"]  # the text as the visitor sent it…
    assert "Came from: https://evil.example/<b>bold</b>" in card["text"]
    assert "Browser language: <i>en</i>" in card["text"]
    assert "(UTC-0500)" in card["text"]
    assert not [e for e in card.get("entities", []) if e["type"] in ("bold", "italic")
                and card["text"][e["offset"]:].startswith("bold")]  # …never as markup
    await tab.close()

    other = await site.visitor()
    tab = await other.tab(page="javascript:alert(1)", referrer="data:text/html,x")
    await tab.says("Hello from nowhere")
    topic = await desk.topic_with("Hello from nowhere")
    card = desk.bot_posts(topic)[0]["text"]
    assert "Website visitor" in card and "javascript:" not in card and "data:" not in card
    await tab.close()


async def test_a_reconnect_resumes_from_the_last_id(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    tab = await visitor.tab()
    await tab.says("first")
    topic = await desk.topic_with("first")
    olga = desk.operator("Olga")
    await olga.says(topic, "answer one")
    await tab.receives("answer one")
    last = tab.last
    await tab.close()  # the laptop sleeps

    await olga.says(topic, "answer two")
    await olga.says(topic, "answer three")
    await until(lambda: len([m for m in desk.messages(topic)]) >= 5)
    again = await visitor.tab(after=last)
    await again.receives("answer three")
    assert again.texts() == ["answer two", "answer three"]  # nothing lost, nothing twice
    # A reload starts from nothing and shows the whole history, in order.
    reload = await visitor.tab()
    await reload.receives("answer three")
    assert reload.texts() == ["first", "answer one", "answer two", "answer three"]
    await again.close()
    await reload.close()


async def test_a_resent_message_is_stored_once(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    tab = await visitor.tab()
    first = await tab.says("only once", client_id="resend-0001")
    # The ack was lost; the page sends it again, over the socket and over HTTP.
    second = await tab.says("only once", client_id="resend-0001")
    third = await visitor.says("only once", client_id="resend-0001")
    assert first["id"] == second["id"] == third
    topic = await desk.topic_with("only once")
    await tab.says("and another")
    await desk.topic_with("and another")
    copies = [m for m in desk.bot_posts(topic) if m.get("text") == "only once"]
    assert len(copies) == 1
    assert tab.texts("visitor").count("only once") == 1
    await tab.close()


async def test_two_tabs_show_one_conversation(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    left, right = await visitor.tab(), await visitor.tab()
    await left.says("typed in the left tab")
    await right.receives("typed in the left tab", kind="visitor")
    topic = await desk.topic_with("typed in the left tab")
    await desk.operator("Olga").says(topic, "seen in both")
    await left.receives("seen in both")
    await right.receives("seen in both")
    assert left.texts() == right.texts()
    # Another visitor sees none of it.
    stranger = await (await site.visitor()).tab()
    await stranger.says("me too")
    await desk.topic_with("me too")
    assert stranger.texts() == ["me too"]
    for tab in (left, right, stranger):
        await tab.close()


async def test_long_polling_is_the_fallback(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    acked = await visitor.says("no websockets here")
    topic = await desk.topic_with("no websockets here")
    events = await visitor.poll(0)
    assert [(e["id"], e["kind"]) for e in events] == [(acked, "visitor")]
    waiting = visitor.poll(acked)  # waits until the answer comes
    await desk.operator("Olga").says(topic, "polled answer")
    [answer] = await waiting
    assert (answer["kind"], answer["text"]) == ("operator", "polled answer")


async def test_edits_and_close_reach_the_page(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    tab = await visitor.tab()
    await tab.says("question")
    topic = await desk.topic_with("question")
    olga = desk.operator("Olga")
    sent = await olga.says(topic, "answr")
    answer = await tab.receives("answr")
    await olga.edits(sent["message_id"], text="answer")
    edit = await tab.receives("answer", kind="edit")
    assert edit["target"] == answer["id"]

    await olga.says(topic, "/close")
    await until(lambda: any(e["kind"] == "closed" for e in tab.events))
    # The next message opens a new conversation, in the same topic.
    await tab.says("one more thing")
    await desk.wait(lambda: any("New conversation" in (m.get("text") or "")
                                for m in desk.bot_posts(topic)))
    # Closed again: the page shows it again.
    await olga.says(topic, "/close")
    await until(lambda: [e["kind"] for e in tab.events].count("closed") == 2)
    await tab.close()


async def test_a_named_visitor_and_markup_in_the_name(site: Site, desk: Desk) -> None:
    visitor = await site.visitor()
    name = "<img src=x onerror=alert(1)>"
    tab = await visitor.tab(name=name)
    await tab.says("my name is odd")
    topic = await desk.topic_with("my name is odd")
    [title] = [t["name"] for t in desk.topics() if t["message_thread_id"] == topic]
    assert title == f"{name} · WEB · #1"
    card = desk.bot_posts(topic)[0]
    assert card["text"].startswith(f"👤 {name}")  # escaped in the card's HTML: shown as typed
    await tab.close()


async def test_nothing_is_acknowledged_before_intake_committed(
        site: Site, desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    assert site.app.services is not None
    intake = site.app.services.intake
    real = intake.relay_customer_to_desk
    failures = [ConnectionError("the database went away")]

    async def once_failing(inbound: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(inbound)

    monkeypatch.setattr(intake, "relay_customer_to_desk", once_failing)
    tab = await (await site.visitor()).tab()
    refused = await tab.says("are you there?", client_id="cid-unlucky-1")
    assert (refused["type"], refused["code"], refused["client_id"]) == \
        ("error", "retry", "cid-unlucky-1")
    assert tab.events == []  # not shown as sent either
    acked = await tab.says("are you there?", client_id="cid-unlucky-1")  # the page resends
    assert acked["type"] == "ack"
    topic = await desk.topic_with("are you there?")
    assert [m.get("text") for m in desk.bot_posts(topic)].count("are you there?") == 1
    await tab.close()


async def test_an_event_stored_by_another_process_reaches_the_page(site: Site) -> None:
    # Several relaydesk processes may share one PostgreSQL database: the outbox of another
    # one stores the answer (and wakes only its own sockets); this page finds it anyway.
    assert site.app.services is not None and site.app.services.web is not None
    visitor = await site.visitor()
    tab = await visitor.tab()
    await tab.says("anyone?")
    await tab.receives("anyone?", kind="visitor")
    store = site.app.services.web.store
    await store.add_event(visitor.token.split(".")[0], "operator",
                          {"name": "Olga", "text": "from the other process", "files": []},
                          "d:999999", site.app.clock.now())
    await tab.receives("from the other process")
    await tab.close()

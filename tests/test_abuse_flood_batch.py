"""A flood that reaches relaydesk in one batch (SQLite and PostgreSQL): the customer's 70
messages, an edit between them and another customer's question wait in the Bot API's
queue until relaydesk starts, so the first getUpdates answers them together. The poller
keeps the held messages of the chat's run and stores them together, in one unit
(core/intake/held.py): before the edit is taken in, and at the end of the run. Every message is stored once, in
the order sent, each excess message with its held event in the same order; the edit reaches
the held message; the topic shows the first 20 alone and the rest combined; the customer is
told once to slow down; the other customer is relayed as usual."""

from __future__ import annotations

from storage import models as db
from tests.harness import Desk, StartRelay
from tests.test_abuse_flood import ABUSE, SLOW_DOWN, _lines
from tests.test_csat import topic_posts

EDITED = "flood 045, said again"


async def test_a_flood_in_one_batch_is_stored_in_order(desk: Desk,
                                                       start_relay: StartRelay) -> None:
    flo, bob = desk.customer("Flo"), desk.customer("Bob")
    sent = [await flo.says(f"flood {n:03d}") for n in range(60)]
    await flo.edits(sent[45]["message_id"], text=EDITED)
    await bob.says("a normal question")
    sent += [await flo.says(f"flood {n:03d}") for n in range(60, 70)]
    await start_relay(ABUSE)

    topic = await desk.topic_with("flood 000")
    assert await desk.topic_with("a normal question") != topic
    await desk.wait(lambda: len(_lines(desk, topic)) >= 70, timeout=20)

    stored = await db.Message.filter(kind="customer", author_id=str(flo.id)).order_by("id")
    assert [m.source_message_id for m in stored] == [str(s["message_id"]) for s in sent]
    texts = [m.content["text"] for m in stored]
    assert texts == [EDITED if n == 45 else f"flood {n:03d}" for n in range(70)]
    # Held together: the excess before the edit in one unit, the excess after it in one.
    assert len({m.created_at for m in stored[20:60]}) == 1
    assert len({m.created_at for m in stored[60:]}) == 1
    links = await db.MessageLink.filter(is_origin=True, chat_id=str(flo.id)).count()
    assert links == 70
    events = await db.AbuseEvent.filter(kind__in=["held", "combined"]).order_by("id")
    assert [e.message_id for e in events] == [m.id for m in stored[20:]]
    assert {e.conversation_id for e in events} == {stored[0].conversation_id}

    relayed_alone = [p for p in topic_posts(desk, topic) if p.startswith("flood ")]
    assert relayed_alone == [f"flood {n:03d}" for n in range(20)]
    combined = [line for line in _lines(desk, topic) if line not in relayed_alone]
    shown = sorted("flood 045" if line == EDITED else line for line in combined)
    assert shown == [f"flood {n:03d}" for n in range(20, 70)]
    await flo.receives(SLOW_DOWN)
    assert [m["text"] for m in flo.inbox()] == [SLOW_DOWN]
    assert not bob.inbox()

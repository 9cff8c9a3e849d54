"""MAX: files both ways (a not-ready upload included), long answers, the rate limit under a
burst, a lost /updates answer and a restart, /link with Telegram — the real adapter against
the MAX emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from sandbox.vk.media import TINY_PNG
from tests.harness import Desk
from tests.max_harness import MaxSide, StartMaxRelay
from tests.vk_harness import bot_texts, tg_file_bytes


async def test_customer_image_and_file_reach_the_topic(desk: Desk, maxb: MaxSide,
                                                       max_relay) -> None:
    ivan = maxb.customer()
    ivan.says("a photo of the box", [{"type": "image", "data": TINY_PNG}])
    ivan.says("", [{"type": "file", "data": b"%PDF-1.4 receipt", "filename": "receipt.pdf"}])
    ivan.says("here I am", [{"type": "location", "latitude": 59.93, "longitude": 30.31}])
    topic = await desk.topic_with("a photo of the box")
    await desk.wait(lambda: any("document" in p for p in desk.bot_posts(topic)))
    posts = desk.bot_posts(topic)
    photo = next(p for p in posts if "photo" in p)
    assert tg_file_bytes(desk, photo["photo"][-1]["file_id"]) == TINY_PNG
    doc = next(p for p in posts if "document" in p)
    assert doc["document"]["file_name"] == "receipt.pdf"
    assert tg_file_bytes(desk, doc["document"]["file_id"]) == b"%PDF-1.4 receipt"
    await desk.wait(lambda: any("59.93, 30.31" in t for t in bot_texts(desk, topic)))


async def test_operator_photo_and_file_upload_in_three_steps_waiting_until_ready(
    desk: Desk, maxb: MaxSide, max_relay
) -> None:
    maxb.emu.options.attachment_ready_after = 0.15  # MAX is still processing the files
    ivan = maxb.customer()
    ivan.says("send me the invoice")
    topic = await desk.topic_with("send me the invoice")
    olga = desk.operator()
    await olga.sends(topic, "photo", caption="the label", data=TINY_PNG)
    await olga.sends(topic, "document", caption="the invoice", data=b"%PDF-1.4 bill",
                     file_name="bill.pdf", mime_type="application/pdf")
    photo = await ivan.receives("the label")
    doc = await ivan.receives("the invoice")
    [image] = photo["body"]["attachments"]
    assert image["type"] == "image"
    assert maxb.emu.file_bytes(image["payload"]["url"]) == TINY_PNG
    [file] = doc["body"]["attachments"]
    assert file["type"] == "file" and file["filename"] == "bill.pdf"
    assert maxb.emu.file_bytes(file["payload"]["url"]) == b"%PDF-1.4 bill"
    refused = [r for r in maxb.emu.calls("POST /messages") if r.code == "attachment.not.ready"]
    assert refused and all(r.status == 400 for r in refused)
    assert len(maxb.emu.calls("POST /uploads")) == 2
    assert not any("Not delivered" in t for t in bot_texts(desk, topic))


async def test_an_answer_longer_than_max_allows_is_split(desk: Desk, maxb: MaxSide,
                                                        max_relay) -> None:
    ivan = maxb.customer()
    ivan.says("tell me everything")
    topic = await desk.topic_with("tell me everything")
    # 4096 characters in Telegram; escaped for MAX's html format they are ~5 000
    line = "Terms & <conditions> apply. "
    text = (line * 200)[:4096]
    await desk.operator().says(topic, text)
    await maxb.emu.wait_for(lambda: "".join(ivan.texts()) == text.rstrip())
    sends = [r for r in maxb.emu.calls("POST /messages") if r.ok]
    assert len(sends) == 2
    assert all(len(r.body["text"]) <= 4000 for r in sends)


async def test_a_burst_of_answers_stays_under_the_rate_limit(
    desk: Desk, maxb: MaxSide, start_max_relay: StartMaxRelay
) -> None:
    maxb.emu.set_rate_limit(True, count=5, window=0.2)  # MAX's 30/s, shrunk
    await start_max_relay(rate="{count: 5, per: 200ms}")
    people = [maxb.customer(f"P{n}") for n in range(12)]
    topics = []
    for n, person in enumerate(people):
        person.says(f"question {n}")
        topics.append(await desk.topic_with(f"question {n}"))
    olga = desk.operator()
    for n, topic in enumerate(topics):
        await olga.says(topic, f"answer {n}")
    for n, person in enumerate(people):
        await person.receives(f"answer {n}", timeout=20)
    assert maxb.emu.violations == []
    assert not [r for r in maxb.emu.requests if r.status == 429]


async def test_a_lost_updates_answer_loses_nothing_and_doubles_nothing(
    desk: Desk, maxb: MaxSide, max_relay
) -> None:
    ivan = maxb.customer()
    ivan.says("one")
    topic = await desk.topic_with("one")
    maxb.emu.drop_connection("GET /updates", times=None, after=True)
    ivan.says("two")
    await maxb.emu.wait_for(lambda: any(r.dropped and r.response and r.response["updates"]
                                        for r in maxb.emu.calls("GET /updates")))
    maxb.emu.reset_faults()
    ivan.says("three")
    await desk.wait(lambda: "three" in bot_texts(desk, topic))
    texts = bot_texts(desk, topic)
    assert texts.count("one") == texts.count("two") == texts.count("three") == 1


async def test_a_restart_resumes_from_the_stored_marker(
    desk: Desk, maxb: MaxSide, start_max_relay: StartMaxRelay
) -> None:
    app = await start_max_relay()
    ivan = maxb.customer()
    ivan.says("before the restart")
    topic = await desk.topic_with("before the restart")
    await app.stop()
    ivan.says("while down 1")
    ivan.says("while down 2")
    await start_max_relay()
    await desk.wait(lambda: "while down 2" in bot_texts(desk, topic))
    texts = bot_texts(desk, topic)
    assert [t for t in texts if t.startswith(("before", "while"))] == [
        "before the restart", "while down 1", "while down 2"]
    # the second run asked with the marker the first stored, never without one
    assert all(r.query.get("marker") for r in maxb.emu.calls("GET /updates")[1:])


async def test_link_joins_a_max_and_a_telegram_customer(desk: Desk, maxb: MaxSide,
                                                       max_relay) -> None:
    tg_anna = desk.customer("Anna")
    await tg_anna.says("hi from telegram")
    tg_topic = await desk.topic_with("hi from telegram")
    max_anna = maxb.customer("Anna", "Smirnova")
    max_anna.says("hi from max")
    max_topic = await desk.topic_with("hi from max")
    store = max_relay.services.store
    tg_conversation = await store.conversation_by_topic(tg_topic)
    assert tg_conversation is not None
    olga = desk.operator()
    await olga.says(max_topic, f"/link {tg_conversation.customer_id}")
    await desk.wait(lambda: any("linked customer" in t for t in bot_texts(desk, max_topic)))
    await tg_anna.says("telegram again")
    assert await desk.topic_with("telegram again") == max_topic
    await olga.says(max_topic, "answer to telegram")
    await tg_anna.receives("answer to telegram")
    max_anna.says("max again")
    assert await desk.topic_with("max again") == max_topic
    await olga.says(max_topic, "answer to max")
    await max_anna.receives("answer to max")
    assert "answer to max" not in [m.get("text") for m in tg_anna.inbox()]
    identities = await store.identities_of(tg_conversation.customer_id)
    assert {i.channel for i in identities} == {"telegram", "max"}

"""`relaydesk sandbox`: relaydesk against the local Telegram emulator, no token needed.

`--demo` plays a short scripted conversation on a throwaway SQLite database and prints the
transcript, so a newcomer sees the product work end to end in a few seconds.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from bots.app import App
from bots.config import Config, load_config_text
from bots.sandbox_page import SandboxPage
from core.delivery.spares import SPARE_TITLE
from sandbox.max import MaxEmulator
from sandbox.telegram import TelegramEmulator

DEMO_TOKEN = "100000:SANDBOX-relaydesk-demo"
MAX_DEMO_TOKEN = "max-SANDBOX-relaydesk-demo-bot-token"


def _config(db_path: Path, api: str, chat_id: int, admin: int, short: bool = True,
            max_api: str | None = None, http_port: int = 0) -> Config:
    """The demo's config; `short` targets show a reminder within seconds (the interactive
    sandbox keeps real ones: 15 minutes to the first response)."""
    targets = "first_response: 4s" if short else "first_response: 15m"
    remind = "2s" if short else "5m"
    max_section = (f'max: {{token: "{MAX_DEMO_TOKEN}", api_server: "{max_api}", '
                   'poll_timeout: 1s}' if max_api else "")
    return load_config_text(
        f"""{max_section}
storage: {{url: "sqlite://{db_path}"}}
telegram: {{token: "{DEMO_TOKEN}", api_server: "{api}", poll_timeout: 1s}}
operators: {{chat_id: {chat_id}, admins: [{admin}]}}
outbox: {{album_wait: 300ms}}
logging: {{level: WARNING}}
http: {{listen: "127.0.0.1:{http_port}"}}
web: {{secret: "{secrets.token_hex(32)}", title: "Demo shop support"}}
service:
  # Shortened so the demo shows a reminder within seconds; real targets are 15m-1h.
  targets: {{{targets}, business_hours: false}}
  remind_before: {remind}
  sweep_interval: 250ms
  daily_report: "off"
faq:
  - id: delivery_time
    en:
      question: "How long does delivery take?"
      phrasings: ["when will my order arrive", "delivery time"]
      answer: "Orders ship within a day and arrive in 2-4 days; tracking comes by email."
    ru:
      question: "Сколько идёт доставка?"
      phrasings: ["когда придёт заказ", "сроки доставки"]
      answer: "Отправляем за день, доставка 2–4 дня; трек-номер придёт на почту."
  - id: returns
    en:
      question: "How do I return an item?"
      answer: "Within 14 days: reply here with the order number and we send a return label."
    ru:
      question: "Как вернуть товар?"
      answer: "В течение 14 дней: пришлите номер заказа, и мы пришлём ярлык для возврата."
""",
        source="sandbox",
        env={},
    )


def _plain(message: dict[str, Any]) -> str:
    text = message.get("text") or message.get("caption") or ""
    if not text:
        kinds = [k for k in ("photo", "document", "sticker", "voice") if k in message]
        text = f"[{kinds[0]}]" if kinds else "[message]"
    return re.sub(r"\s+", " ", text)


class _Transcript:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, who: str, where: str, text: str) -> None:
        line = f"  {who:<18} → {where:<26} {text}"
        self.lines.append(line)
        print(line, flush=True)


async def _setup(emu: TelegramEmulator) -> tuple[int, Any, Any]:
    emu.add_bot(token=DEMO_TOKEN, username="relaydesk_demo_bot")
    group = emu.create_supergroup(title="Support desk", forum=True, bot_admin=True,
                                  can_manage_topics=True)
    operator = emu.add_user(first_name="Olga", last_name="Operator", username="olga",
                            language_code="en")
    emu.add_member(group, operator)
    customer = emu.add_user(first_name="Anna", last_name="Smirnova", username="anna_s",
                            language_code="en")
    emu.add_user(first_name="Ivan", last_name="Petrov", username="ivan_p",
                 language_code="en")
    return group, operator, customer


class _Demo:
    """The scripted conversation, one method per step: Ivan's question is answered by the
    bot (nothing reaches the operators); Anna's is not an FAQ question, so it is handed
    over: Olga notes, the reminder fires, Olga answers, Anna thanks, Olga closes; then
    Dmitri writes from MAX and gets his answer there."""

    def __init__(self, emu: TelegramEmulator, group: int, olga: Any, anna: Any,
                 max_emu: MaxEmulator, site: str) -> None:
        self.emu, self.group, self.olga, self.anna = emu, group, olga, anna
        self.max_emu = max_emu
        self.site = site  # the HTTP server the website widget talks to
        self.transcript = _Transcript()
        self.topic = 0
        self.title = ""
        self.first_copy: dict[str, Any] = {}

    async def play(self) -> bool:
        """Run every step; True when the internal note leaked to the customer."""
        await self.bot_answers()
        await self.customer_asks()
        await self.operator_notes()
        await self.reminder_fires()
        leaked = await self.operator_answers()
        await self.customer_thanks()
        await self.operator_closes()
        await self.max_customer()
        await self.web_visitor()
        return leaked

    def bot_messages(self, chat: int, thread: int | None = None) -> list[dict[str, Any]]:
        return [
            m for m in self.emu.messages(chat, thread_id=thread)
            if m.get("from", {}).get("is_bot") and "forum_topic_created" not in m
            and "forum_topic_edited" not in m
        ]

    def topic_label(self) -> str:
        return f"topic “{_short(self.title)}”"

    async def copy_in_group(self, text: str) -> dict[str, Any]:
        """The group's copy of a customer's message: alone, or under the card when it is
        the conversation's first post (surge handling's one send for a new customer)."""

        def copies() -> list[dict[str, Any]]:
            return [m for m in self.bot_messages(self.group)
                    if m.get("text") == text or (m.get("text") or "").endswith("\n\n" + text)]

        await self.emu.wait_for(lambda: bool(copies()), 10)
        return copies()[0]

    async def topic_title(self, topic: int) -> str:
        """The topic's name once relaydesk set it: a conversation that took a spare topic
        (made ahead while the group was quiet) gets its name as soon as the group is quiet
        again."""

        def title() -> str:
            return next(x["name"] for x in self.emu.topics(self.group)
                        if x["message_thread_id"] == topic)

        await self.emu.wait_for(lambda: title() != SPARE_TITLE, 10)
        return title()

    async def bot_answers(self) -> None:
        """Ivan asks what the FAQ covers: the bot answers at once, he presses ✅ That
        helped, and the conversation closes without a topic."""
        emu, say = self.emu, self.transcript.say
        ivan = next(u for u in emu.state.users.values() if u.first_name == "Ivan")
        question = "hi, when will my order arrive?"
        await emu.user_send(ivan, ivan.id, text=question)
        say("Ivan (customer)", "@relaydesk_demo_bot", question)
        await emu.wait_for(lambda: bool(self.bot_messages(ivan.id)), 10)
        answer = self.bot_messages(ivan.id)[0]
        buttons = [b for row in answer["reply_markup"]["inline_keyboard"] for b in row]
        say("relaydesk (bot)", "Ivan's private chat",
            f"{_plain(answer)} [{' | '.join(b['text'] for b in buttons)}]")
        await emu.user_press_button(ivan, ivan.id, answer["message_id"],
                                    buttons[0]["callback_data"])
        say("Ivan (customer)", "@relaydesk_demo_bot", f"presses {buttons[0]['text']}")
        await emu.wait_for(lambda: len(self.bot_messages(ivan.id)) == 2, 10)
        say("relaydesk (bot)", "Ivan's private chat", _plain(self.bot_messages(ivan.id)[1]))
        spares = sum(1 for x in emu.topics(self.group) if x["name"] == SPARE_TITLE)
        print(f"  {'':<18}   operator group: nothing posted (self-served); {spares} spare "
              "topics made ahead while it is quiet")

    async def customer_asks(self) -> None:
        """Anna's first message is no FAQ question: handed over, it opens a topic with her
        card; she is told when to expect an answer."""
        emu, group, anna, say = self.emu, self.group, self.anna, self.transcript.say
        text = "Hi! My order #1042 hasn't arrived yet <:("
        await emu.user_send(anna, anna.id, text=text)
        say("Anna (customer)", "@relaydesk_demo_bot", text)
        self.first_copy = await self.copy_in_group(text)
        self.topic = self.first_copy["message_thread_id"]
        self.title = await self.topic_title(self.topic)
        print(f"  {'':<18}   topic: “{self.title}”")
        for m in self.bot_messages(group, self.topic):
            say("relaydesk (bot)", self.topic_label(), _plain(m))
        await emu.wait_for(lambda: bool(self.bot_messages(anna.id)), 10)
        say("relaydesk (bot)", "Anna's private chat", _plain(self.bot_messages(anna.id)[0]))

    async def operator_notes(self) -> None:
        note = "/note VIP customer, order is in the Kazan warehouse"
        await self.emu.user_send(self.olga, self.group, text=note, thread_id=self.topic)
        self.transcript.say("Olga (operator)", "topic (internal)", note)

    async def reminder_fires(self) -> None:
        """Nobody answered within the (shortened) target: the topic gets a reminder."""

        def reminders() -> list[dict[str, Any]]:
            return [m for m in self.bot_messages(self.group, self.topic)
                    if (m.get("text") or "").startswith("⏰")]

        await self.emu.wait_for(lambda: bool(reminders()), 15)
        self.transcript.say("relaydesk (bot)", self.topic_label(), _plain(reminders()[0]))

    async def operator_answers(self) -> bool:
        """Olga replies to Anna's message; True when the earlier note reached Anna."""
        emu, anna, say = self.emu, self.anna, self.transcript.say
        answer = "Sorry, Anna! It ships today; tracking number RX-55 follows."
        await emu.user_send(self.olga, self.group, text=answer, thread_id=self.topic,
                            reply_to=self.first_copy["message_id"])
        say("Olga (operator)", self.topic_label(), answer)
        await emu.wait_for(
            lambda: any(m.get("text") == answer for m in self.bot_messages(anna.id)), 10
        )
        got = next(m for m in self.bot_messages(anna.id) if m.get("text") == answer)
        threaded = " (as a reply to her message)" if got.get("reply_to_message") else ""
        say("relaydesk (bot)", "Anna's private chat", f"{answer}{threaded}")
        return any("VIP" in (m.get("text") or "") for m in self.bot_messages(anna.id))

    async def customer_thanks(self) -> None:
        thanks = "Thank you!"
        await self.emu.user_send(self.anna, self.anna.id, text=thanks)
        self.transcript.say("Anna (customer)", "@relaydesk_demo_bot", thanks)
        await self.emu.wait_for(
            lambda: any(m.get("text") == thanks for m in self.bot_messages(self.group)), 10
        )
        self.transcript.say("relaydesk (bot)", self.topic_label(), thanks)

    async def operator_closes(self) -> None:
        emu, group = self.emu, self.group
        await emu.user_send(self.olga, group, text="/close", thread_id=self.topic)
        self.transcript.say("Olga (operator)", self.topic_label(), "/close")
        await emu.wait_for(lambda: any(x["message_thread_id"] == self.topic and x.get("closed")
                                       for x in emu.topics(group)), 10)
        self.transcript.say("relaydesk (bot)", self.topic_label(), "topic closed ✅")

    async def max_customer(self) -> None:
        """Dmitri writes to the company's bot in MAX: a topic of his own in the same group;
        Olga answers there as for anyone, the answer reaches him in MAX."""
        emu, max_emu, say = self.emu, self.max_emu, self.transcript.say
        dmitri = max_emu.add_user("Dmitri", "Sokolov", "dmitri_s")
        question = "Hello! Is the blue jacket available in XL?"
        max_emu.user_send(dmitri, question)
        say("Dmitri (MAX)", "the MAX bot", question)
        topic = (await self.copy_in_group(question))["message_thread_id"]
        title = await self.topic_title(topic)
        print(f"  {'':<18}   topic: “{title}”")
        answer = "Yes, Dmitri: XL is in stock, shall I reserve one?"
        await emu.user_send(self.olga, self.group, text=answer, thread_id=topic)
        say("Olga (operator)", f"topic “{_short(title)}”", answer)
        await max_emu.wait_for(lambda: any(m["body"]["text"] == answer
                                           for m in max_emu.sent_to(dmitri)), 10)
        say("relaydesk (bot)", "Dmitri's MAX dialog", answer)


    async def web_visitor(self) -> None:
        """A visitor on the shop's website writes in the chat widget (the protocol
        widget.js speaks: a session, then a WebSocket): a WEB topic opens, Olga answers
        there, the page shows it."""
        emu, group, say = self.emu, self.group, self.transcript.say
        question = "Do you ship to Kazan? I'm on the cart page."
        async with aiohttp.ClientSession(headers={"Origin": self.site}) as http:
            async with http.post(f"{self.site}/web/api/session", json={}) as answer:
                token = (await answer.json())["token"]
            ws = await http.ws_connect(f"{self.site}/web/ws")
            await ws.send_json({"type": "hello", "token": token, "after": 0, "lang": "en",
                                "page": "https://shop.example.com/cart", "utc_offset": 180})
            await ws.receive_json()  # ready
            await ws.send_json({"type": "send", "client_id": "demo-visitor-1",
                                "text": question})
            say("web visitor", "chat widget on the site", question)
            topic = (await self.copy_in_group(question))["message_thread_id"]
            self.title = await self.topic_title(topic)
            print(f"  {'':<18}   topic: “{self.title}”")
            answer_text = "Yes, 2-3 days to Kazan, free over 3000 ₽."
            await emu.user_send(self.olga, group, text=answer_text, thread_id=topic)
            say("Olga (operator)", self.topic_label(), answer_text)
            while True:
                frame = await ws.receive_json(timeout=10)
                shown = [e for e in frame.get("events", []) if e["kind"] == "operator"]
                if shown:
                    say("relaydesk (widget)", "the visitor's page",
                        f"{shown[0]['name']}: {shown[0]['text']} (event #{shown[0]['id']})")
                    break
            await ws.close()


async def run_demo() -> int:
    """Play the scripted conversation against the emulator and print it; 0 when it went as
    expected."""
    emu = TelegramEmulator()
    await emu.start(host="127.0.0.1", port=0)
    group, olga, anna = await _setup(emu)
    max_emu = MaxEmulator()
    await max_emu.start()
    max_emu.add_bot("Support", MAX_DEMO_TOKEN)
    with tempfile.TemporaryDirectory(prefix="relaydesk-demo-") as tmp:
        app = App(_config(Path(tmp) / "demo.sqlite3", emu.base_url, group, olga.id,
                          max_api=max_emu.base_url))
        print(f"relaydesk sandbox demo: Telegram emulator at {emu.base_url}, MAX emulator at "
              f"{max_emu.base_url}, SQLite in {tmp}\n")
        try:
            await app.start()
            http = app.services.http if app.services else None
            site = f"http://127.0.0.1:{http.port}" if http else ""
            leaked = await _Demo(emu, group, olga, anna, max_emu, site).play()
            print(f"\nThe internal note reached the customer: {'YES (bug!)' if leaked else 'no'}."
                  "\nThat was the real bot (aiogram) against the emulator. Next: put your token "
                  "and group id into config.yaml and run `relaydesk run -c config.yaml`.")
            return 1 if leaked else 0
        except TimeoutError as exc:
            print(f"\ndemo failed: {exc}")
            return 1
        finally:
            await app.stop()
            await emu.stop()
            await max_emu.stop()


async def run_sandbox(port: int, http_port: int = 8080) -> int:
    """Start the emulator with a demo bot and group and run relaydesk against it until ^C;
    the page with the website widget and the operator group is on the HTTP server."""
    emu = TelegramEmulator()
    await emu.start(host="127.0.0.1", port=port)
    group, olga, anna = await _setup(emu)
    data = Path("data")
    await asyncio.to_thread(data.mkdir, exist_ok=True)
    app = App(_config(data / "sandbox.sqlite3", emu.base_url, group, olga.id, short=False,
                      http_port=http_port), http_parts=[SandboxPage(emu, group, olga)])
    stop = asyncio.Event()
    try:
        await app.start()
        http = app.services.http if app.services else None
        print(f"Telegram emulator: {emu.base_url} (control API under {emu.base_url}/_control)\n"
              f"operator group {group}; operator Olga id {olga.id}; customer Anna id {anna.id}\n"
              f"Website widget + operator view: http://127.0.0.1:{http.port if http else '?'}"
              "/sandbox\nPress Ctrl+C to stop.", flush=True)
        await app.run_until(stop)
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        await app.stop()
        await emu.stop()
    return 0


def _short(title: str, width: int = 24) -> str:
    """A topic title for the transcript's second column."""
    return title if len(title) <= width else title[: width - 1] + "…"

"""`relaydesk sandbox`: relaydesk against the local Telegram emulator, no token needed.

`--demo` plays a short scripted conversation on a throwaway SQLite database and prints the
transcript, so a newcomer sees the product work end to end in a few seconds.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

from bots.app import App
from bots.config import Config, load_config_text
from sandbox.telegram import TelegramEmulator

DEMO_TOKEN = "100000:SANDBOX-relaydesk-demo"


def _config(db_path: Path, api: str, chat_id: int, admin: int, short: bool = True) -> Config:
    """The demo's config; `short` targets show a reminder within seconds (the interactive
    sandbox keeps real ones: 15 minutes to the first response)."""
    targets = "first_response: 4s" if short else "first_response: 15m"
    remind = "2s" if short else "5m"
    return load_config_text(
        f"""
storage: {{url: "sqlite://{db_path}"}}
telegram: {{token: "{DEMO_TOKEN}", api_server: "{api}", poll_timeout: 1s}}
operators: {{chat_id: {chat_id}, admins: [{admin}]}}
outbox: {{album_wait: 300ms}}
logging: {{level: WARNING}}
service:
  # Shortened so the demo shows a reminder within seconds; real targets are 15m-1h.
  targets: {{{targets}, business_hours: false}}
  remind_before: {remind}
  sweep_interval: 250ms
  daily_report: "off"
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
    return group, operator, customer


async def run_demo() -> int:
    emu = TelegramEmulator()
    await emu.start(host="127.0.0.1", port=0)
    group, olga, anna = await _setup(emu)
    t = _Transcript()
    with tempfile.TemporaryDirectory(prefix="relaydesk-demo-") as tmp:
        app = App(_config(Path(tmp) / "demo.sqlite3", emu.base_url, group, olga.id))
        print(f"relaydesk sandbox demo: Telegram emulator at {emu.base_url}, SQLite in {tmp}\n")
        try:
            await app.start()
            bot_msgs = lambda chat, thread=None: [  # noqa: E731
                m for m in emu.messages(chat, thread_id=thread) if m.get("from", {}).get("is_bot")
                and "forum_topic_created" not in m
            ]
            text = "Hi! My order #1042 hasn't arrived yet <:("
            await emu.user_send(anna, anna.id, text=text)
            t.say("Anna (customer)", "@relaydesk_demo_bot", text)
            await emu.wait_for(lambda: any(m.get("text") == text for m in bot_msgs(group)), 10)
            copy = next(m for m in bot_msgs(group) if m.get("text") == text)
            topic = copy["message_thread_id"]
            title = next(x["name"] for x in emu.topics(group) if x["message_thread_id"] == topic)
            print(f"  {'':<18}   topic created: “{title}”")
            for m in bot_msgs(group, topic):
                t.say("relaydesk (bot)", f"topic “{_short(title)}”", _plain(m))
            await emu.wait_for(lambda: bool(bot_msgs(anna.id)), 10)
            t.say("relaydesk (bot)", "Anna's private chat", _plain(bot_msgs(anna.id)[0]))
            note = "/note VIP customer, order is in the Kazan warehouse"
            await emu.user_send(olga, group, text=note, thread_id=topic)
            t.say("Olga (operator)", "topic (internal)", note)
            is_reminder = lambda m: (m.get("text") or "").startswith("⏰")  # noqa: E731
            await emu.wait_for(lambda: any(map(is_reminder, bot_msgs(group, topic))), 15)
            reminder = next(m for m in bot_msgs(group, topic) if is_reminder(m))
            t.say("relaydesk (bot)", f"topic “{_short(title)}”", _plain(reminder))
            answer = "Sorry, Anna! It ships today; tracking number RX-55 follows."
            await emu.user_send(olga, group, text=answer, thread_id=topic,
                                reply_to=copy["message_id"])
            t.say("Olga (operator)", f"topic “{_short(title)}”", answer)
            await emu.wait_for(lambda: any(m.get("text") == answer for m in bot_msgs(anna.id)),
                               10)
            got = next(m for m in bot_msgs(anna.id) if m.get("text") == answer)
            threaded = " (as a reply to her message)" if got.get("reply_to_message") else ""
            t.say("relaydesk (bot)", "Anna's private chat", f"{answer}{threaded}")
            leaked = any("VIP" in (m.get("text") or "") for m in bot_msgs(anna.id))
            thanks = "Thank you!"
            await emu.user_send(anna, anna.id, text=thanks)
            t.say("Anna (customer)", "@relaydesk_demo_bot", thanks)
            await emu.wait_for(lambda: any(m.get("text") == thanks for m in bot_msgs(group)), 10)
            t.say("relaydesk (bot)", f"topic “{_short(title)}”", thanks)
            await emu.user_send(olga, group, text="/close", thread_id=topic)
            t.say("Olga (operator)", f"topic “{_short(title)}”", "/close")
            await emu.wait_for(lambda: any(x["message_thread_id"] == topic and x.get("closed")
                                           for x in emu.topics(group)), 10)
            t.say("relaydesk (bot)", f"topic “{_short(title)}”", "topic closed ✅")
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


async def run_sandbox(port: int) -> int:
    """Start the emulator with a demo bot and group and run relaydesk against it until ^C."""
    emu = TelegramEmulator()
    await emu.start(host="127.0.0.1", port=port)
    group, olga, anna = await _setup(emu)
    data = Path("data")
    await asyncio.to_thread(data.mkdir, exist_ok=True)
    app = App(_config(data / "sandbox.sqlite3", emu.base_url, group, olga.id, short=False))
    print(f"Telegram emulator: {emu.base_url} (control API under {emu.base_url}/_control)\n"
          f"operator group {group}; operator Olga id {olga.id}; customer Anna id {anna.id}\n"
          "Press Ctrl+C to stop.")
    stop = asyncio.Event()
    try:
        await app.start()
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

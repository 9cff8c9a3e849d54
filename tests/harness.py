"""Conversation-style test harness: the real relaydesk App and the real aiogram client
against the Telegram emulator on 127.0.0.1. Tests read like a chat script:

    anna = desk.customer("Anna")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    await desk.operator("Olga").says(topic, "hi Anna")
    await anna.receives("hi Anna")
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bots.app import App
from bots.config import Config, load_config_text
from sandbox.telegram import TelegramEmulator

TOKEN = "123456:TEST-relaydesk-token"
WAIT = 10.0
# Telegram's limits with the windows shrunk (same shape): tests that are not about flood
# control must not spend minutes being polite to the emulator.
FAST_LIMITS = ("{private_chat: {count: 10, per: 100ms}, group: {count: 20, per: 100ms}, "
               "bot: {count: 30, per: 50ms}}")


def relay_config(db_url: str, api: str, chat_id: int, admins: list[int] | None = None,
                 extra: str = "", limits: str = FAST_LIMITS,
                 telegram: dict[str, Any] | None = None) -> Config:
    text = relay_config_text(db_url, api, chat_id, admins, extra, limits, telegram)
    return load_config_text(text, source="test-config.yaml", env={})


# The `outbox:` keys of every test relay, as YAML text. Surge handling is off (it is on by
# default): tests count topics, posts and Bot API calls exactly; the surge tests turn it on
# themselves.
TEST_OUTBOX = {"album_wait": "300ms", "backoff_base": "100ms", "backoff_max": "1s",
               "spare_topics": "0", "coalesce": "false"}


def relay_config_text(db_url: str, api: str, chat_id: int, admins: list[int] | None = None,
                      extra: str = "", limits: str = FAST_LIMITS,
                      telegram: dict[str, Any] | None = None,
                      outbox: dict[str, Any] | None = None) -> str:
    """A test relay's config file; `telegram` and `outbox` change or add keys of those
    sections (e.g. webhook mode), `extra` adds sections."""
    telegram_keys = {"poll_timeout": "1s", "request_timeout": "10s", "limits": limits}
    return f"""
storage:
  url: "{db_url}"
telegram:
  token: "{TOKEN}"
  api_server: "{api}"{_section_keys(telegram_keys, telegram)}
operators:
  chat_id: {chat_id}
  admins: {admins or []}
outbox:{_section_keys(TEST_OUTBOX, outbox)}
{extra}
"""


def _section_keys(defaults: dict[str, str], changes: dict[str, Any] | None) -> str:
    """A section's key lines: `defaults` (YAML text) with `changes` over them or added,
    written as JSON, which YAML reads."""
    keys = {**defaults, **{key: json.dumps(value) for key, value in (changes or {}).items()}}
    return "".join(f"\n  {key}: {value}" for key, value in keys.items())


@dataclass
class Customer:
    emu: TelegramEmulator
    user: Any
    bot_id: int

    @property
    def id(self) -> int:
        return int(self.user.id)

    async def says(self, text: str, reply_to: int | None = None, **kw: Any) -> dict[str, Any]:
        return await self.emu.user_send(self.user, self.id, text=text, reply_to=reply_to, **kw)

    async def sends(self, kind: str, **kw: Any) -> dict[str, Any]:
        return await self.emu.user_send_media(self.user, self.id, kind=kind, **kw)

    async def edits(self, message_id: int, **kw: Any) -> None:
        await self.emu.user_edit(self.user, self.id, message_id, **kw)

    async def blocks_bot(self) -> None:
        await self.emu.user_block_bot(self.user)

    async def unblocks_bot(self) -> None:
        await self.emu.user_unblock_bot(self.user)

    def inbox(self) -> list[dict[str, Any]]:
        """What the bot has sent into this customer's private chat."""
        return [m for m in self.emu.messages(self.id) if m.get("from", {}).get("is_bot")]

    async def receives(self, text: str, timeout: float = WAIT) -> dict[str, Any]:
        await self.emu.wait_for(lambda: any(_text(m) == text for m in self.inbox()), timeout)
        return next(m for m in self.inbox() if _text(m) == text)


@dataclass
class Operator:
    emu: TelegramEmulator
    user: Any
    group: int

    async def says(self, topic: int, text: str, reply_to: int | None = None) -> dict[str, Any]:
        return await self.emu.user_send(self.user, self.group, text=text, thread_id=topic,
                                        reply_to=reply_to)

    async def sends(self, topic: int, kind: str, **kw: Any) -> dict[str, Any]:
        return await self.emu.user_send_media(self.user, self.group, kind=kind,
                                              thread_id=topic, **kw)

    async def edits(self, message_id: int, **kw: Any) -> None:
        await self.emu.user_edit(self.user, self.group, message_id, **kw)


def _text(message: dict[str, Any]) -> str | None:
    return message.get("text", message.get("caption"))


class Desk:
    """The operator group as the tests see it."""

    def __init__(self, emu: TelegramEmulator, group: int, bot_id: int) -> None:
        self.emu = emu
        self.group = group
        self.bot_id = bot_id
        self._names = 0

    def customer(self, first_name: str = "Anna", last_name: str | None = None,
                 username: str | None = None, language_code: str | None = "en",
                 *, premium: bool = False) -> Customer:
        """`premium`: a Telegram Premium user (captions up to 2048 characters)."""
        user = self.emu.add_user(first_name=first_name, last_name=last_name,
                                 username=username, language_code=language_code,
                                 is_premium=premium)
        return Customer(self.emu, user, self.bot_id)

    def operator(self, first_name: str = "Olga", *, premium: bool = False) -> Operator:
        user = self.emu.add_user(first_name=first_name, last_name=None, username=None,
                                 language_code="en", is_premium=premium)
        self.emu.add_member(self.group, user)
        return Operator(self.emu, user, self.group)

    def messages(self, topic: int | None = None) -> list[dict[str, Any]]:
        return self.emu.messages(self.group, thread_id=topic)

    def bot_posts(self, topic: int) -> list[dict[str, Any]]:
        return [m for m in self.messages(topic) if m.get("from", {}).get("is_bot")
                and "forum_topic_created" not in m]

    def topics(self) -> list[dict[str, Any]]:
        return self.emu.topics(self.group)

    def find(self, text: str) -> dict[str, Any] | None:
        return next((m for m in self.messages() if m.get("from", {}).get("is_bot")
                     and _text(m) == text), None)

    async def topic_with(self, text: str, timeout: float = WAIT) -> int:
        """The topic where the bot posted a message with exactly this text."""
        await self.emu.wait_for(lambda: self.find(text) is not None, timeout)
        found = self.find(text)
        assert found is not None
        return int(found["message_thread_id"])

    async def wait(self, predicate: Callable[[], Any], timeout: float = WAIT) -> None:
        await self.emu.wait_for(predicate, timeout)


@pytest.fixture
async def tg() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator()
    await emu.start(host="127.0.0.1", port=0)
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def desk(tg: TelegramEmulator) -> Desk:
    bot = tg.add_bot(token=TOKEN, username="relaydesk_bot")
    group = tg.create_supergroup(title="Support", forum=True, bot_admin=True,
                                 can_manage_topics=True)
    return Desk(tg, group, int(bot.id))


StartRelay = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_relay(db_url: str, desk: Desk) -> AsyncIterator[StartRelay]:
    """Start relaydesk (the same App the CLI runs) with optional extra config YAML."""
    apps: list[App] = []

    async def start(extra: str = "", admins: list[int] | None = None,
                    limits: str = FAST_LIMITS, telegram: dict[str, Any] | None = None) -> App:
        app = App(relay_config(db_url, desk.emu.base_url, desk.group, admins, extra, limits,
                               telegram))
        await app.start()
        apps.append(app)
        return app

    try:
        yield start
    finally:
        for app in apps:
            await app.stop()


@pytest.fixture
async def relay(start_relay: StartRelay) -> App:
    return await start_relay()

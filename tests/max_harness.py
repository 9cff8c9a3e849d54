"""Conversation-style helpers for the MAX channel: the real App with the real MAX adapter
against the MAX emulator (and the Telegram emulator for the desk), both on 127.0.0.1.

    ivan = maxb.customer("Ivan", "Petrov")
    ivan.says("hello")
    topic = await desk.topic_with("hello")
    await desk.operator().says(topic, "hi Ivan")
    await ivan.receives("hi Ivan")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bots.app import App
from sandbox.max import BotRecord, MaxEmulator, UserRecord
from tests.harness import FAST_LIMITS, WAIT, StartRelay

MAX_TOKEN = "max-Test-Relaydesk-Bot-Token-9kQ2mZ7xW4"


@dataclass
class MaxCustomer:
    emu: MaxEmulator
    user: UserRecord

    @property
    def id(self) -> int:
        return self.user.user_id

    def says(self, text: str = "", attachments: list[Any] | None = None,
             reply_to: str | None = None) -> dict[str, Any]:
        return self.emu.user_send(self.user, text, attachments, reply_to)

    def edits(self, mid: str, text: str) -> dict[str, Any]:
        return self.emu.user_edit(mid, text)

    def deletes(self, mid: str) -> None:
        self.emu.user_remove(mid)

    def stops_bot(self) -> None:
        self.emu.user_stops(self.user)

    def starts_bot(self, payload: str | None = None) -> None:
        self.emu.user_starts(self.user, payload)

    def inbox(self) -> list[dict[str, Any]]:
        """What the bot sent this customer, in order."""
        return self.emu.sent_to(self.user)

    def texts(self) -> list[str]:
        return [m["body"]["text"] for m in self.inbox()]

    async def receives(self, text: str, timeout: float = WAIT) -> dict[str, Any]:
        await self.emu.wait_for(lambda: text in self.texts(), timeout,
                                f"{self.user.first_name} receives {text!r}")
        return next(m for m in self.inbox() if m["body"]["text"] == text)


class MaxSide:
    """The MAX bot as the tests see it."""

    def __init__(self, emu: MaxEmulator, bot: BotRecord) -> None:
        self.emu = emu
        self.bot = bot

    def customer(self, first_name: str = "Ivan", last_name: str | None = "Petrov",
                 username: str | None = None) -> MaxCustomer:
        return MaxCustomer(self.emu, self.emu.add_user(first_name, last_name, username))

    def config(self, rate: str = "{count: 30, per: 1s}", extra: str = "") -> str:
        return f"""
max:
  token: "{self.bot.token}"
  api_server: "{self.emu.base_url}"
  poll_timeout: 1s
  request_timeout: 5s
  attachment_retry: 50ms
  rate: {rate}
{extra}"""


@pytest.fixture
async def max_emu() -> AsyncIterator[MaxEmulator]:
    emu = MaxEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def maxb(max_emu: MaxEmulator) -> MaxSide:
    return MaxSide(max_emu, max_emu.add_bot("Support", MAX_TOKEN))


StartMaxRelay = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_max_relay(start_relay: StartRelay, maxb: MaxSide) -> StartMaxRelay:
    async def start(extra: str = "", limits: str = FAST_LIMITS,
                    rate: str = "{count: 30, per: 1s}", **kw: Any) -> App:
        return await start_relay(extra=maxb.config(rate) + extra, limits=limits, **kw)

    return start


@pytest.fixture
async def max_relay(start_max_relay: StartMaxRelay) -> App:
    return await start_max_relay()

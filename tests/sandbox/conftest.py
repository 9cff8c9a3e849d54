"""Fixtures: an emulator on a free port and a real aiogram Bot pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from sandbox.telegram import BotRecord, TelegramEmulator, UserRecord

TOKEN = "123456:TEST-token"


class LocalSession(AiohttpSession):
    """aiogram's session minus the 250 ms pause its close() makes for TLS connections to wind
    down: the emulator speaks plain HTTP, and 40 tests x 250 ms is most of this suite's time."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(emu: TelegramEmulator, token: str = TOKEN) -> Bot:
    return Bot(token, session=LocalSession(api=TelegramAPIServer.from_base(emu.base_url)))


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
def bot_record(emu: TelegramEmulator) -> BotRecord:
    return emu.add_bot(TOKEN, username="relay_bot")


@pytest.fixture
async def bot(emu: TelegramEmulator, bot_record: BotRecord) -> AsyncIterator[Bot]:
    client = make_bot(emu)
    try:
        yield client
    finally:
        await client.session.close()


@pytest.fixture
def group(emu: TelegramEmulator, bot_record: BotRecord) -> int:
    return emu.create_supergroup("Support", forum=True, bot_admin=True, can_manage_topics=True)


@pytest.fixture
def anna(emu: TelegramEmulator) -> UserRecord:
    return emu.add_user("Anna", username="anna", language_code="en")


@pytest.fixture
def oleg(emu: TelegramEmulator, group: int) -> UserRecord:
    """An operator: a plain member of the support group."""
    operator = emu.add_user("Oleg", username="oleg")
    emu.add_member(group, operator)
    return operator

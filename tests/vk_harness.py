"""Conversation-style helpers for the VK channel: the real App with the real VK transport
against the VK emulator (and the Telegram emulator for the desk), both on 127.0.0.1.

    anna = vk.customer("Anna", "Smirnova")
    await anna.says("hello")
    topic = await desk.topic_with("hello")
    await desk.operator().says(topic, "hi Anna")
    await anna.receives("hi Anna")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bots.app import App
from sandbox.vk import Community, UserRecord, VkEmulator
from tests.harness import FAST_LIMITS, WAIT, Desk, StartRelay

VK_TOKEN = "vk1.a.Test-Relaydesk-Community-Token-7f3Qz9"


def vk_config(emu: VkEmulator, club: Community, rate: str = "{count: 20, per: 1s}") -> str:
    return f"""
vk:
  token: "{club.token}"
  group_id: {club.id}
  api_server: "{emu.base_url}"
  poll_wait: 1s
  request_timeout: 5s
  rate: {rate}
"""


@dataclass
class VkCustomer:
    emu: VkEmulator
    club: Community
    user: UserRecord

    @property
    def id(self) -> int:
        return self.user.id

    async def says(self, text: str = "", attachments: list[Any] | None = None,
                   reply_to: int | None = None, fwd: list[Any] | None = None,
                   payload: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.emu.user_send(self.user, self.club, text, attachments, reply_to, fwd,
                                        payload=payload)

    async def edits(self, message_id: int, text: str) -> dict[str, Any]:
        return await self.emu.user_edit(self.user, self.club, message_id, text)

    def denies(self) -> None:
        self.emu.user_deny(self.user, self.club)

    def allows(self) -> None:
        self.emu.user_allow(self.user, self.club)

    def inbox(self) -> list[dict[str, Any]]:
        """What the community has sent to this customer (bot and admins)."""
        return [m for m in self.emu.messages(self.club, self.id) if m["out"]]

    async def receives(self, text: str, timeout: float = WAIT) -> dict[str, Any]:
        await self.emu.wait_for(lambda: any(m["text"] == text for m in self.inbox()), timeout,
                                f"{self.user.first_name} receives {text!r}")
        return next(m for m in self.inbox() if m["text"] == text)


class VkSide:
    """The VK community as the tests see it."""

    def __init__(self, emu: VkEmulator, club: Community) -> None:
        self.emu = emu
        self.club = club

    def customer(self, first_name: str = "Anna", last_name: str = "Smirnova",
                 screen_name: str | None = None, lang_id: int = 0) -> VkCustomer:
        user = self.emu.add_user(first_name, last_name, screen_name, lang_id)
        return VkCustomer(self.emu, self.club, user)

    async def admin_replies(self, customer: VkCustomer, text: str) -> dict[str, Any]:
        """A community admin answers in VK's web inbox (message_reply)."""
        return await self.emu.admin_reply(self.club, customer.id, text)

    def config(self, rate: str = "{count: 20, per: 1s}") -> str:
        return vk_config(self.emu, self.club, rate)


@pytest.fixture
async def vk_emu() -> AsyncIterator[VkEmulator]:
    emu = VkEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def vk(vk_emu: VkEmulator) -> VkSide:
    return VkSide(vk_emu, vk_emu.add_community(name="Support", token=VK_TOKEN))


StartVkRelay = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_vk_relay(start_relay: StartRelay, vk: VkSide) -> StartVkRelay:
    async def start(extra: str = "", limits: str = FAST_LIMITS,
                    rate: str = "{count: 20, per: 1s}", **kw: Any) -> App:
        return await start_relay(extra=vk.config(rate) + extra, limits=limits, **kw)

    return start


@pytest.fixture
async def vk_relay(start_vk_relay: StartVkRelay) -> App:
    return await start_vk_relay()


def bot_texts(desk: Desk, topic: int) -> list[str]:
    return [str(m.get("text", m.get("caption", ""))) for m in desk.bot_posts(topic)]


def tg_file_bytes(desk: Desk, file_id: str) -> bytes:
    """The bytes behind a file_id the Telegram emulator handed out."""
    from sandbox.telegram.state import parse_file_id

    parsed = parse_file_id(file_id)
    assert parsed is not None
    return desk.emu.state.files[parsed[1]].data

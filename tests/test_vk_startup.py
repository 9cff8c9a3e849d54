"""A start while the VK API is away: one line per try naming the server and the cause, tries
again until it answers; a rejected token is not retried. The real App and VK transport
against the VK emulator, started late on a port picked before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bench.ports import free_port
from bots.app import App, StartupError
from sandbox.vk import Community, VkEmulator
from tests.harness import WAIT, Desk, relay_config
from tests.late_start import FAST_RETRY, retry_lines, until_retried
from tests.vk_harness import VK_TOKEN, VkSide


def vk_block(api_server: str, club: Community, token: str = VK_TOKEN) -> str:
    return f"""
vk:
  token: "{token}"
  group_id: {club.id}
  api_server: "{api_server}"
  poll_wait: 1s
  request_timeout: 5s
"""


@pytest.fixture
async def late_vk() -> AsyncIterator[VkSide]:
    """A community whose emulator is not listening yet (`late_vk.emu.start(port=…)`)."""
    emu = VkEmulator()
    try:
        yield VkSide(emu, emu.add_community(name="Support", token=VK_TOKEN))
    finally:
        await emu.stop()


async def test_a_start_waits_for_a_vk_api_that_comes_up_late(
    db_url: str, desk: Desk, late_vk: VkSide, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    extra = vk_block(f"http://127.0.0.1:{port}", late_vk.club)
    app = App(relay_config(db_url, desk.emu.base_url, desk.group, extra=extra),
              startup_retry=FAST_RETRY)
    starting = asyncio.create_task(app.start())
    try:
        await until_retried(caplog, 2)
        assert not starting.done()
        await late_vk.emu.start(host="127.0.0.1", port=port)
        await asyncio.wait_for(starting, WAIT)
        anna = late_vk.customer()
        await anna.says("hello from VK after the outage")
        topic = await desk.topic_with("hello from VK after the outage")
        await desk.operator().says(topic, "we are back")
        await anna.receives("we are back")
    finally:
        starting.cancel()
        await app.stop()
    line = retry_lines(caplog)[0]
    assert f"VK API at 127.0.0.1:{port} (vk.api_server)" in line
    assert "connection refused" in line
    assert VK_TOKEN not in caplog.text


async def test_vk_server_errors_and_cut_connections_at_start_are_retried(
    db_url: str, desk: Desk, vk: VkSide, caplog: pytest.LogCaptureFixture
) -> None:
    vk.emu.inject_fault("groups.getById", 10, times=2)
    vk.emu.drop_connection("groups.getById")
    app = App(relay_config(db_url, desk.emu.base_url, desk.group, extra=vk.config()),
              startup_retry=FAST_RETRY)
    try:
        await asyncio.wait_for(app.start(), WAIT)
        anna = vk.customer()
        await anna.says("hi")
        await desk.topic_with("hi")
    finally:
        await app.stop()
    lines = retry_lines(caplog)
    assert len(lines) == 3, lines
    assert sum("VK error 10" in line for line in lines) == 2
    assert sum("closed the connection" in line for line in lines) == 1


async def test_a_rejected_vk_token_stops_the_start_without_retrying(
    db_url: str, desk: Desk, vk: VkSide, caplog: pytest.LogCaptureFixture
) -> None:
    extra = vk_block(vk.emu.base_url, vk.club, token="vk1.a.Wrong-Token-Of-Nobody-1234567")
    app = App(relay_config(db_url, desk.emu.base_url, desk.group, extra=extra),
              startup_retry=FAST_RETRY)
    try:
        with pytest.raises(StartupError, match=r"vk\.token: VK rejected the token"):
            await app.start()
    finally:
        await app.stop()
    assert not retry_lines(caplog)

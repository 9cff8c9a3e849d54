"""Work that one process at a time does on a shared PostgreSQL (storage/leadership.py):
the Telegram poller runs only while this process holds the polling role."""

from __future__ import annotations

import asyncio
import contextlib

from adapters.telegram.polling import DurablePoller
from bots.vk import VkParts
from storage.leadership import Leadership

POLLING = "telegram-polling"
JOBS = "scheduled-jobs"
VK_POLLING = "vk-polling"


async def poll_while_leading(poller: DurablePoller, leadership: Leadership) -> None:
    """Poll during every term this process leads polling; return when the poller is
    stopped for good (the App stops)."""
    stopped = asyncio.create_task(poller.wait_stopped())
    try:
        while True:
            held = asyncio.create_task(leadership.wait_held(POLLING))
            await asyncio.wait([held, stopped], return_when=asyncio.FIRST_COMPLETED)
            held.cancel()
            if stopped.done():
                return
            poller.restart()
            stopped.cancel()
            lost = asyncio.create_task(leadership.wait_lost(POLLING))
            running = asyncio.create_task(poller.run())
            await asyncio.wait([lost, running], return_when=asyncio.FIRST_COMPLETED)
            lost.cancel()
            if running.done():  # stopped by the App (or died: the App sees the exception)
                await running
                return
            poller.pause()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            stopped = asyncio.create_task(poller.wait_stopped())
    finally:
        stopped.cancel()
        await leadership.give_up(POLLING)  # stopped for good: let another process poll


async def vk_while_leading(vk: VkParts, leadership: Leadership) -> None:
    """VK's long poll in the process leading it (VK sends every event to every poller).
    A term that ends (its database connection lost) ends this process's VK polling; another
    process takes the role and polls from the saved cursor."""
    assert vk.longpoll is not None
    stopped = asyncio.create_task(vk.longpoll.wait_stopping())
    held = asyncio.create_task(leadership.wait_held(VK_POLLING))
    try:
        await asyncio.wait([held, stopped], return_when=asyncio.FIRST_COMPLETED)
        if stopped.done():
            return
        running = vk.run()
        lost = asyncio.create_task(leadership.wait_lost(VK_POLLING))
        await asyncio.wait([running, lost], return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            vk.stop()
        lost.cancel()
        await running
    finally:
        held.cancel()
        stopped.cancel()
        await leadership.give_up(VK_POLLING)

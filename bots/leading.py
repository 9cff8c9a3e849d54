"""Work that one process at a time does on a shared PostgreSQL (storage/leadership.py):
the Telegram poller, VK's and MAX's long polls run only while this process holds their
role."""

from __future__ import annotations

import asyncio
import contextlib

from adapters.telegram.polling import DurablePoller
from bots.max import MaxParts
from bots.vk import VkParts
from storage.leadership import Leadership

POLLING = "telegram-polling"
JOBS = "scheduled-jobs"
VK_POLLING = "vk-polling"
MAX_POLLING = "max-polling"


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


async def max_while_leading(parts: MaxParts, leadership: Leadership) -> None:
    """MAX's long polling in the process leading it (MAX hands each update to whichever
    poller asks, so two pollers would split and reorder the updates). A term that ends ends
    this process's MAX polling; another process takes the role and polls from the saved
    marker."""
    assert parts.polling is not None
    stopped = asyncio.create_task(parts.polling.wait_stopping())
    held = asyncio.create_task(leadership.wait_held(MAX_POLLING))
    try:
        await asyncio.wait([held, stopped], return_when=asyncio.FIRST_COMPLETED)
        if stopped.done():
            return
        await parts.resume()
        running = parts.run()
        assert running is not None
        lost = asyncio.create_task(leadership.wait_lost(MAX_POLLING))
        await asyncio.wait([running, lost], return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            parts.stop()
        lost.cancel()
        await running
    finally:
        held.cancel()
        stopped.cancel()
        await leadership.give_up(MAX_POLLING)


def max_task(parts: MaxParts | None, leadership: Leadership | None
             ) -> asyncio.Task[None] | None:
    """MAX's polling task: on its own, or in turn with the other processes (None in
    webhook mode or without MAX)."""
    if parts is None or parts.polling is None or leadership is None:
        return parts.run() if parts is not None else None
    return asyncio.create_task(max_while_leading(parts, leadership), name="max-polling")

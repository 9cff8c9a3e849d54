"""Work that one process at a time does on a shared PostgreSQL (storage/leadership.py):
the Telegram poller runs only while this process holds the polling role."""

from __future__ import annotations

import asyncio
import contextlib

from adapters.telegram.polling import DurablePoller
from storage.leadership import Leadership

POLLING = "telegram-polling"
JOBS = "scheduled-jobs"


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

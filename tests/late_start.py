"""Helpers for starts against a server that is not there yet."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bots.startup import StartupRetry

# Pauses of a few tens of milliseconds: the tests see several tries without waiting long.
FAST_RETRY = StartupRetry(base=0.02, cap=0.1)


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings of the start's waiting, one per failed try."""
    return [r.getMessage() for r in caplog.records
            if r.name == "bots.startup" and r.levelno == logging.WARNING]


async def until_retried(caplog: pytest.LogCaptureFixture, count: int = 1,
                        timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a test's bound
    """Wait until the start has logged `count` failed tries."""
    async with asyncio.timeout(timeout):
        # Log records come with no event to wait on: look again every 10 ms.
        while len(retry_lines(caplog)) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

"""Running an emulator by hand (``python -m sandbox.telegram`` / ``sandbox.vk``)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from .lifecycle import ServedApp


async def serve_until_interrupted(emulator: ServedApp, info: dict[str, Any]) -> None:
    """Print ``info`` (ids and URLs to play with) as JSON, then serve until Ctrl+C."""
    sys.stdout.write(json.dumps(info, indent=2) + "\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()  # until Ctrl+C
    finally:
        await emulator.stop()

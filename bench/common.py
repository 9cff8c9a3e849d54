"""What every benchmark shares: where the repository and its results are, the python that
runs relays, and SIGTERM unwinding a benchmark as Ctrl+C does.

The rest is in modules of their own: bench.report (JSON output, progress, statistics),
bench.world (the Telegram emulator world and the copies found in its request log),
bench.databases (throwaway databases), bench.relays (the relay under test as a subprocess).
bench.report and bench.relays import this module, so every benchmark has the handler.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable


def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# SIGTERM unwinds a benchmark like Ctrl+C does, so its relay subprocess is stopped and its
# throwaway database dropped on the way out.
with contextlib.suppress(ValueError):  # not in the main thread
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)

"""The relay under test, as a subprocess of its own so that its peak RSS (`VmHWM`) is its
own: the aiogram floor relay (bench/floor_relay.py), relaydesk on SQLite, relaydesk on
PostgreSQL (run exactly as `python -m bots run -c FILE`), against a bench.world emulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT
from bench.databases import pg_database
from bench.report import log
from bench.world import TOKEN, World

RELAYS = ("floor", "sqlite", "postgres")
# "Rate limits off": relaydesk's modelled limits wide open, the emulator's disabled.
OPEN_LIMITS = (
    "{private_chat: {count: 1000, per: 1s}, group: {count: 1000, per: 1s}, "
    "bot: {count: 1000, per: 1s}}"
)
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


# Surge handling (spare topics, a new customer's card and first message in one post,
# coalescing) is on by default since issue 16; these benchmarks measure the relay one message
# per post, as their earlier figures were taken and as an idle desk behaves, and wait for
# each message's own copy. bench.surge passes its own block (`outbox=`).
OUTBOX = "outbox:\n  album_wait: 200ms\n  spare_topics: 0\n  coalesce: false\n"


def relaydesk_config(db_url: str, api: str, chat_id: int, limits: str = OPEN_LIMITS,
                     outbox: str = OUTBOX) -> str:
    return f"""storage:
  url: "{db_url}"
telegram:
  token: "{TOKEN}"
  api_server: "{api}"
  poll_timeout: 1s
  limits: {limits}
operators:
  chat_id: {chat_id}
{outbox}logging:
  level: WARNING
"""


@dataclass
class RelayProcess:
    """One relay subprocess: `floor` (bench/floor_relay.py) or relaydesk (`sqlite`,
    `postgres`, run exactly as `python -m bots run -c FILE`)."""

    kind: str
    world: World
    workdir: Path
    limits: str = OPEN_LIMITS
    wrap: Sequence[str] = ()  # e.g. a profiler command line put before the python one
    db_url: str | None = None
    extra_config: str = ""  # YAML sections appended to the config (e.g. vk)
    telegram_extra: str = ""  # more `telegram:` keys, indented lines (e.g. webhook mode)
    outbox: str = OUTBOX  # the `outbox:` section (bench.surge turns surge handling on)
    proc: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    peak_rss_kb: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.kind}.log"

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        return ""

    async def _run_cli(self, *args: str) -> None:
        with self.log_path.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                PYTHON, "-m", "bots", *args, cwd=ROOT, stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:
                code = await asyncio.wait_for(proc.wait(), START_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise
        if code != 0:
            raise RuntimeError(f"relaydesk {' '.join(args)} exited {code}:\n{self.log_tail()}")

    async def start(self) -> None:
        emu = self.world.emu
        if self.kind == "floor":
            cmd = [PYTHON, "-m", "bench.floor_relay", "--api", emu.base_url, "--token", TOKEN,
                   "--group", str(self.world.group)]
        else:
            assert self.db_url is not None, "relaydesk needs db_url"
            config = self.workdir / "config.yaml"
            text = relaydesk_config(self.db_url, emu.base_url, self.world.group, self.limits,
                                    self.outbox)
            text = text.replace("  limits: ", self.telegram_extra + "  limits: ", 1)
            config.write_text(text + self.extra_config, encoding="utf-8")
            if self.kind == "postgres":
                await self._run_cli("migrate", "-c", str(config))
            cmd = [PYTHON, "-m", "bots", "run", "-c", str(config)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        loop = asyncio.get_running_loop()
        self.started_at = loop.time()
        with self.log_path.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.wrap, *cmd, cwd=ROOT, env=env, stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        # Polling, or (webhook mode) the webhook set: updates reach the relay from now on.
        polls = lambda: any(r.method in ("getUpdates", "setWebhook")  # noqa: E731
                            for r in emu.requests)
        try:
            await emu.wait_for(lambda: polls() or self.exited(), START_TIMEOUT,
                               f"{self.kind} relay starts polling")
        except TimeoutError:
            raise RuntimeError(f"{self.kind} relay did not start:\n{self.log_tail()}") from None
        if self.exited():
            raise RuntimeError(f"{self.kind} relay exited {self.proc.returncode}:\n"
                               f"{self.log_tail()}")

    def exited(self) -> bool:
        return self.proc is not None and self.proc.returncode is not None

    def check_alive(self) -> None:
        """For wait predicates: fail fast (not after the timeout) when the relay died."""
        if self.exited():
            assert self.proc is not None
            raise RuntimeError(f"{self.kind} relay exited {self.proc.returncode}:\n"
                               f"{self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def read_peak_rss_kb(self) -> int | None:
        """VmHWM of the relay's python process (the high-water mark of its RSS)."""
        if self.proc is None or self.exited():
            return self.peak_rss_kb
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_rss_kb = int(line.split()[1])
        return self.peak_rss_kb

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the relay process (all its threads) has used so far."""
        if self.proc is None or self.exited():
            return None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()  # fields[0] is the state, field 3 of stat(5)
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> int | None:
        """SIGTERM (relaydesk stops gracefully), then SIGKILL after STOP_TIMEOUT."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            self.read_peak_rss_kb()
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return proc.returncode


@contextlib.asynccontextmanager
async def running_relay(kind: str, w: World, *, limits: str = OPEN_LIMITS,
                        wrap: Sequence[str] = (), extra_config: str = "",
                        telegram_extra: str = "", outbox: str = OUTBOX,
                        ) -> AsyncIterator[RelayProcess]:
    """Start the relay of `kind` against world `w` (with its own fresh database) and stop it,
    whatever happens, on the way out."""
    if kind not in RELAYS:
        raise ValueError(f"relay must be one of {RELAYS}, got {kind!r}")
    with tempfile.TemporaryDirectory(prefix=f"relaydesk-bench-{kind}-") as tmp:
        workdir = Path(tmp)
        async with contextlib.AsyncExitStack() as stack:
            db_url = None
            if kind == "sqlite":
                db_url = f"sqlite://{workdir / 'relaydesk.sqlite3'}"
            elif kind == "postgres":
                db_url = await stack.enter_async_context(pg_database())
            relay = RelayProcess(kind, w, workdir, limits=limits, wrap=wrap, db_url=db_url,
                                 extra_config=extra_config, telegram_extra=telegram_extra,
                                 outbox=outbox)
            try:
                await relay.start()
                yield relay
            finally:
                code = await relay.stop()
                relay.extra["exit_code"] = code
                if code not in (0, None, -signal.SIGTERM):
                    log(f"{kind} relay exited {code}; log tail:\n{relay.log_tail(2000)}")


def peak_mb(relay: RelayProcess) -> float | None:
    kb = relay.read_peak_rss_kb()
    return round(kb / 1024, 1) if kb is not None else None


def relay_arg(parser: Any, *, floor: bool = True) -> None:
    choices = list(RELAYS) if floor else ["sqlite", "postgres"]
    parser.add_argument("--relay", "--db", dest="relay", choices=choices, default="sqlite",
                        help="which relay to run: " + ", ".join(choices))

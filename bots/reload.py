"""Config reload: `SIGHUP`, or `relaydesk reload -c FILE` (which signals the running
processes: through PostgreSQL's NOTIFY when the database is shared, else the pid in the
SQLite lock file).

The file is read and validated as a whole. An invalid one changes nothing: its problems are
logged and posted to the General topic. A valid one is applied key by key where that is safe
while work is in flight (the table in bots/reload_parts.py: texts, FAQ, canned replies,
hours, targets, limits, admins, departments); every other changed key (storage.url, tokens,
http.listen, modes...) is named in the post as needing a restart, never silently ignored.
"""

from __future__ import annotations

import html
import logging
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import BaseModel, SecretStr

from bots.config import Config, load_config
from bots.config_errors import ConfigError
from core.model import DeskPost
from core.unit import Transactions, Unit

logger = logging.getLogger(__name__)
CHANNEL = "relaydesk_reload"


class NeedsRestart(Exception):
    """This key's new value can't be applied while running (the reason says why)."""


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted key paths two levels deep, secrets compared by value (never shown)."""
    if isinstance(value, BaseModel) and path.count(".") < 1:
        for name in type(value).model_fields:
            yield from _leaves(getattr(value, name), f"{path}.{name}" if path else name)
        return
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    elif isinstance(value, BaseModel):
        value = value.model_dump()
    elif isinstance(value, list):
        value = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
    yield path, value


def changed_keys(old: Config, new: Config) -> list[str]:
    before, after = dict(_leaves(old)), dict(_leaves(new))
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@dataclass
class Reloaded:
    applied: list[str]
    restart: list[str]
    problems: str | None = None


class Reloader:
    """Re-reads the config file and applies what can change while running."""

    def __init__(self, path: str, config: Config, apply: dict[str, Callable[[Config], None]],
                 transactions: Transactions, general: Callable[[Unit, DeskPost], Any],
                 speaks: Callable[[], bool]) -> None:
        self._path = path
        self.config = config
        self._apply = apply
        self._transactions = transactions
        self._general = general
        self._speaks = speaks  # several processes: one of them posts

    async def reload(self) -> Reloaded:
        try:
            new = load_config(self._path)
        except ConfigError as exc:
            logger.error("config reload refused, the old config stays:\n%s", exc.render())
            result = Reloaded([], [], exc.render())
            await self._post(result)
            return result
        keys = changed_keys(self.config, new)
        live, done = [], set()
        for key in (k for k in keys if k in self._apply):
            step = self._apply[key]
            try:
                if step not in done:  # several keys of one part: applied once
                    step(new)
            except NeedsRestart as exc:
                logger.info("config reload: %s needs a restart (%s)", key, exc)
                continue
            done.add(step)
            live.append(key)
        result = Reloaded(live, [k for k in keys if k not in live])
        self.config = self.config.model_copy(update=self._merged(new, live))
        logger.info("config reloaded: applied %s; needs a restart: %s",
                    ", ".join(result.applied) or "nothing", ", ".join(result.restart) or "-")
        await self._post(result)
        return result

    def _merged(self, new: Config, live: list[str]) -> dict[str, Any]:
        """The running config: the old one with the applied keys' sections from `new`."""
        update: dict[str, Any] = {}
        for key in live:
            section, _, field = key.partition(".")
            if not field:  # a top-level key (faq, canned, departments)
                update[section] = getattr(new, section)
                continue
            base = update.get(section, getattr(self.config, section))
            update[section] = base.model_copy(update={field: getattr(getattr(new, section),
                                                                        field)})
        return update

    async def _post(self, result: Reloaded) -> None:
        if not self._speaks():
            return
        if result.problems is not None:
            text = ("⚠️ <b>config.yaml was not reloaded</b>: the running config stays.\n"
                    f"<pre>{html.escape(result.problems)}</pre>")
        else:
            text = "🔄 <b>config.yaml reloaded</b>\nApplied: " + (
                ", ".join(result.applied) or "nothing changed that applies while running")
            if result.restart:
                text += ("\nChanged, but needs a restart to take effect: "
                         + ", ".join(result.restart))

        async def work(unit: Unit) -> None:
            await self._general(unit, DeskPost(text))

        await self._transactions.run(work)


def signal_running(config: Config) -> str:
    """`relaydesk reload`: tell the running processes of this config to reload."""
    if config.storage.kind == "postgres":
        import asyncio

        return asyncio.run(_notify(config))
    lock = config.storage.tortoise_url.removeprefix("sqlite://").partition("?")[0] + ".lock"
    try:
        with open(lock, encoding="ascii") as file:
            pid = int(file.read().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"no running relaydesk found for this database ({lock}: {exc})"
                           ) from None
    return f"sent SIGHUP to relaydesk (pid {pid})"


async def _notify(config: Config) -> str:
    dsn = config.storage.tortoise_url.replace("postgres://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"NOTIFY {CHANNEL}")
    finally:
        await conn.close()
    return "asked every relaydesk process on this database to reload"


class ReloadListener:
    """PostgreSQL: LISTEN for `relaydesk reload` from any host."""

    def __init__(self, dsn: str, on_reload: Callable[[], None]) -> None:
        self._dsn = dsn.replace("postgres://", "postgresql://", 1)
        self._on_reload = on_reload
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(CHANNEL, lambda *_: self._on_reload())

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

"""The `relaydesk` command line: run, check, migrate, reload, sandbox, faq."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bots.config import ConfigError, check_config_file, load_config

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2

logger = logging.getLogger("relaydesk")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaydesk",
        description="Customer support inside messengers: customers write to a Telegram bot, "
        "operators answer in a Telegram forum group.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot")
    run.add_argument("-c", "--config", default="config.yaml", help="config file")
    check = sub.add_parser("check", help="validate a config file (exit 0 valid, 2 not)")
    check.add_argument("-c", "--config", default="config.yaml")
    reload = sub.add_parser("reload", help="make the running relaydesk re-read its config")
    reload.add_argument("-c", "--config", default="config.yaml")
    mig = sub.add_parser("migrate", help="apply pending database migrations")
    mig.add_argument("-c", "--config", default="config.yaml")
    sandbox = sub.add_parser(
        "sandbox", help="run relaydesk against the local Telegram emulator (no token needed)"
    )
    sandbox.add_argument("--demo", action="store_true",
                         help="play a short scripted conversation, print it and exit")
    sandbox.add_argument("--port", type=int, default=8081, help="emulator port (not --demo)")
    sandbox.add_argument("--http-port", type=int, default=8080,
                         help="the page with the website widget and the operator group")
    faq = sub.add_parser("faq", help="try the FAQ, or see what operators answered with it")
    faq_sub = faq.add_subparsers(dest="faq_command", required=True)
    attempt = faq_sub.add_parser("try", help="what the bot would do with questions (stdin)")
    attempt.add_argument("-c", "--config", default="config.yaml")
    attempt.add_argument("--jsonl", action="store_true",
                         help='read {"text": ..., "lang": ...} lines, write them with id and '
                         "score")
    suggest = faq_sub.add_parser("suggest", help="customer phrasings operators answered with "
                                 "/faq, per entry")
    suggest.add_argument("-c", "--config", default="config.yaml")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A crash in a C extension (sqlite3, asyncpg) leaves the Python stacks on stderr.
    faulthandler.enable()
    if args.command == "check":
        code, output = check_config_file(args.config)
        print(output, file=sys.stdout if code == 0 else sys.stderr)
        return code
    if args.command == "sandbox":
        from bots.demo import run_demo, run_sandbox

        if args.demo:
            return asyncio.run(run_demo())
        return asyncio.run(run_sandbox(args.port, args.http_port))
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG
    from bots.logs import setup_logging

    setup_logging(config.logging.level, config.logging.format)
    if args.command == "faq":
        from bots import faq_cli

        if args.faq_command == "try":
            return faq_cli.try_faq(config, jsonl=args.jsonl)
        return asyncio.run(faq_cli.suggest(config))
    if args.command == "reload":
        from bots.reload import signal_running

        try:
            print(signal_running(config))
        except (RuntimeError, OSError) as exc:
            print(f"relaydesk reload: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        return EXIT_OK
    if args.command == "migrate":
        from storage.database import migrate

        asyncio.run(migrate(config.storage.tortoise_url))
        print("migrations applied")
        return EXIT_OK
    return asyncio.run(_run(config, args.config))


async def _run(config: object, path: str = "config.yaml") -> int:
    from adapters.telegram.startup import DeskSetupError
    from bots.app import App, StartupError

    app = App(config)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        # A server that can't be reached yet is waited for (one line per try); a stop
        # signal in the meantime ends the waiting and the process cleanly.
        if await app.start_unless_stopped(stop) is None:
            return EXIT_OK
        # Everything imported and built so far (aiogram, pydantic schemas, tortoise: ~170
        # MB of long-lived objects) leaves the collector's view, so a full collection no
        # longer walks it: fewer and much shorter pauses in the middle of a relay.
        gc.freeze()
        async with _reloads(app, path):
            await app.run_until(stop)
    except (StartupError, DeskSetupError) as exc:
        print(f"relaydesk: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"relaydesk: can't reach a service: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        logger.info("stopping")
        await app.stop()
    return EXIT_OK


@contextlib.asynccontextmanager
async def _reloads(app: Any, path: str) -> AsyncIterator[None]:
    """SIGHUP (and, on PostgreSQL, `relaydesk reload` from anywhere) re-reads the config."""
    from bots.reload import ReloadListener

    reloader = app.reloader(path)
    pending: set[asyncio.Task[object]] = set()

    def reload() -> None:
        task = asyncio.create_task(reloader.reload())
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGHUP, reload)
    listener = None
    if app.config.storage.kind == "postgres":
        listener = ReloadListener(app.config.storage.tortoise_url, reload)
        await listener.start()
    try:
        yield
    finally:
        if listener is not None:
            await listener.stop()
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGHUP)

"""Run the emulator by hand: ``python -m sandbox.max --port 8083``.

Prints the base URL, the bot token and a customer id as JSON, then serves until Ctrl+C.
Play the customer through the control API, e.g.::

    curl -XPOST localhost:8083/_control/user_send -d '{"user_id": <id>, "text": "hello"}'
    curl 'localhost:8083/_control/messages?user_id=<id>'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from ..common.cli import serve_until_interrupted
from .emulator import MaxEmulator


async def serve(host: str, port: int, token: str | None) -> None:
    emu = MaxEmulator()
    bot = emu.add_bot("Support", token)
    customer = emu.add_user("Ivan", "Petrov", "ivan_p")
    await emu.start(host=host, port=port)
    info = {"base_url": emu.base_url, "token": bot.token, "bot_id": bot.user.user_id,
            "customer_id": customer.user_id}
    await serve_until_interrupted(emu, info)


def main() -> None:
    parser = argparse.ArgumentParser(description="Local MAX Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8083)
    parser.add_argument("--token", default=None, help="bot token (default: random)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.token))


if __name__ == "__main__":
    main()

"""Run the emulator by hand: ``python -m sandbox.telegram --port 8081 --token 123:abc``.

Point a bot at ``http://127.0.0.1:8081`` (aiogram: ``TelegramAPIServer.from_base``) and play
the customer through the HTTP control API, e.g.::

    curl -XPOST localhost:8081/_control/user_send \\
         -d '{"user_id": <customer id>, "chat_id": <customer id>, "text": "hello"}'
    curl 'localhost:8081/_control/messages?chat_id=<group id>'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from ..common.cli import serve_until_interrupted
from .emulator import TelegramEmulator


async def serve(host: str, port: int, token: str, username: str) -> None:
    emu = TelegramEmulator()
    bot = emu.add_bot(token, username=username)
    group = emu.create_supergroup("Support", forum=True)
    customer = emu.add_user("Anna", username="anna", language_code="en")
    operator = emu.add_user("Oleg", username="oleg", language_code="en")
    emu.add_member(group, operator)
    await emu.start(host=host, port=port)
    info = {
        "base_url": emu.base_url,
        "bot_id": bot.id,
        "bot_username": bot.username,
        "group_id": group,
        "customer_id": customer.id,
        "operator_id": operator.id,
    }
    await serve_until_interrupted(emu, info)


def main() -> None:
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-token")
    parser.add_argument("--username", default="relay_bot")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.token, args.username))


if __name__ == "__main__":
    main()

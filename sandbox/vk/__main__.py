"""Run the emulator by hand: ``python -m sandbox.vk --port 8082``.

Prints the base URL, a community id and token and a customer id as JSON, then serves until
Ctrl+C. Play the customer through the HTTP control API, e.g.::

    curl -XPOST localhost:8082/_control/user_send \\
         -d '{"user_id": <customer id>, "group_id": <community id>, "text": "hello"}'
    curl 'localhost:8082/_control/messages?group_id=<community id>&peer_id=<customer id>'

For relaydesk's `vk.mode: callback`, put the printed ``confirmation`` into
``vk.callback.confirmation``, start relaydesk, then register (and confirm) its route::

    curl -XPOST localhost:8082/_control/set_callback_server \
         -d '{"group_id": <community id>, "url": "http://127.0.0.1:8080/vk/callback",
              "secret": "<vk.callback.secret>"}'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from ..common.cli import serve_until_interrupted
from .emulator import VkEmulator


async def serve(host: str, port: int, token: str | None, group_id: int | None) -> None:
    emu = VkEmulator()
    community = emu.add_community(group_id, "Support", token)
    customer = emu.add_user("Anna", "Smirnova", screen_name="anna_s")
    await emu.start(host=host, port=port)
    info = {
        "base_url": emu.base_url,
        "api_url": f"{emu.base_url}/method/",
        "group_id": community.id,
        "token": community.token,
        "admin_id": community.admin_id,
        "customer_id": customer.id,
        "confirmation": community.confirmation_code,  # for vk.mode: callback
    }
    await serve_until_interrupted(emu, info)


def main() -> None:
    parser = argparse.ArgumentParser(description="Local VK API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--token", default=None, help="community token (default: random)")
    parser.add_argument("--group-id", type=int, default=None)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.token, args.group_id))


if __name__ == "__main__":
    main()

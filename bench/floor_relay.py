"""The floor: the cheapest relay the client stack allows, to measure relaydesk against.

Plain aiogram 3 (`Bot` + `Dispatcher`), no database, nothing durable: an in-memory dict
user → topic, `createForumTopic` on a user's first message, `copyMessage` customer → topic
and topic → customer. Its own simple long polling: the offset is confirmed as soon as a
batch arrives (not durable — that is the point of a floor), each chat's updates are handled
in order by one task per chat, different chats concurrently.

    python -m bench.floor_relay --api http://127.0.0.1:PORT --token 1:abc --group -100…

Runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message, Update

logger = logging.getLogger("floor_relay")


class FloorRelay:
    def __init__(self, bot: Bot, group: int) -> None:
        self.bot = bot
        self.group = group
        self.topic_of: dict[int, int] = {}  # customer user id → topic thread id
        self.user_of: dict[int, int] = {}  # topic thread id → customer user id
        self.dp = Dispatcher()
        self.dp.message.register(self.from_customer, F.chat.type == "private")
        self.dp.message.register(self.from_operator, F.chat.id == group)
        self._queues: dict[int, asyncio.Queue[Update]] = {}
        self._workers: list[asyncio.Task[None]] = []

    async def from_customer(self, message: Message, bot: Bot) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        thread = self.topic_of.get(user.id)
        if thread is None:  # one task per chat: a burst of first messages makes one topic
            topic = await bot.create_forum_topic(chat_id=self.group,
                                                 name=(user.full_name or str(user.id))[:128])
            thread = topic.message_thread_id
            self.topic_of[user.id] = thread
            self.user_of[thread] = user.id
        await bot.copy_message(chat_id=self.group, from_chat_id=message.chat.id,
                               message_id=message.message_id, message_thread_id=thread)

    async def from_operator(self, message: Message, bot: Bot) -> None:
        if not message.is_topic_message or not message.message_thread_id:
            return
        if message.from_user is None or message.from_user.is_bot:
            return
        if message.forum_topic_created or message.forum_topic_closed:
            return
        user = self.user_of.get(message.message_thread_id)
        if user is not None:
            await bot.copy_message(chat_id=user, from_chat_id=self.group,
                                   message_id=message.message_id)

    # ---- polling --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        offset: int | None = None
        while not stop.is_set():
            fetch = asyncio.ensure_future(self.bot.get_updates(offset=offset, timeout=1))
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait({fetch, halt}, return_when=asyncio.FIRST_COMPLETED)
            halt.cancel()
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(BaseException):
                    await fetch
                break
            try:
                updates = fetch.result()
            except Exception as exc:
                logger.warning("getUpdates failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for update in updates:
                offset = update.update_id + 1
                self._queue(_chat_of(update)).put_nowait(update)

    def _queue(self, chat: int) -> asyncio.Queue[Update]:
        queue = self._queues.get(chat)
        if queue is None:
            queue = self._queues[chat] = asyncio.Queue()
            self._workers.append(asyncio.create_task(self._work(queue)))
        return queue

    async def _work(self, queue: asyncio.Queue[Update]) -> None:
        while True:
            update = await queue.get()
            try:
                await self.dp.feed_update(self.bot, update)
            except Exception:
                logger.exception("update %s failed", update.update_id)

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        await self.bot.session.close()


def _chat_of(update: Update) -> int:
    event = update.message or update.edited_message
    return event.chat.id if event is not None else 0


async def main(api: str, token: str, group: int) -> int:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api))
    relay = FloorRelay(Bot(token, session=session), group)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await relay.run(stop)
    finally:
        await relay.close()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="Bot API base URL (the emulator)")
    parser.add_argument("--token", required=True)
    parser.add_argument("--group", type=int, required=True, help="the forum supergroup id")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.api, args.token, args.group)))

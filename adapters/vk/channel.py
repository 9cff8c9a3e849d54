"""The VK community channel, outgoing: `VkChannel` implements the core's ChannelPort.

Every send carries a `random_id` derived from the delivery id, so a retry after a lost
answer never doubles a message. Files from other platforms are fetched through the core's
`Files` and uploaded through VK's upload servers.
"""

from __future__ import annotations

import html
import re
from collections import OrderedDict
from collections.abc import Sequence
from functools import partial

import aiohttp

from adapters.plain import plain_text
from core.files import Files
from core.model import Attachment, Choice, Message, Outgoing
from core.ports import RateKey

from . import errors
from .buttons import keyboard
from .convert import PLATFORM
from .transport import VkApi, part_random_id, random_id_for, split_text
from .uploads import upload_doc, upload_photo

CHANNEL = "vk"
_TAG = re.compile(r"<[^>]+>")


class VkChannel:
    name = CHANNEL
    platform = PLATFORM

    def __init__(self, api: VkApi, files: Files, remember: int = 10_000) -> None:
        self._api = api
        self._files = files
        # random_ids of recent sends: VK reports our own messages back as message_reply,
        # possibly before it answers the send itself.
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._remember = remember

    def sent_by_us(self, random_id: int) -> bool:
        return random_id in self._recent

    def _note(self, random_id: int, parts: int) -> None:
        for part in range(parts):
            self._recent[part_random_id(random_id, part)] = None
        while len(self._recent) > self._remember:
            self._recent.popitem(last=False)

    def rate_keys(self, chat_id: str) -> Sequence[RateKey]:
        # The transport paces every request (uploads and reads too) at the token's budget;
        # counting sends here again would halve it.
        return ()

    def max_batch(self) -> int:
        return 1

    def can_batch(self, first: Outgoing, nxt: Outgoing) -> bool:
        return False

    def sends_for(self, items: Sequence[Outgoing]) -> int:
        # VK's budget is the token's, paced per request inside the transport itself
        # (rate_keys is empty): what counts here never reaches a limiter.
        return len(items)

    async def send(self, chat_id: str, items: Sequence[Outgoing]) -> list[str]:
        return [
            await errors.call(partial(self._send, int(chat_id), item), bucket=self._api.rate.key)
            for item in items
        ]

    async def _send(self, peer_id: int, item: Outgoing) -> str:
        attachments = [await self._upload(peer_id, a) for a in item.message.content.attachments]
        text = plain_text(item.message)
        random_id = random_id_for(item.key)
        self._note(random_id, len(split_text(text, self._api.text_limit)))
        ids = await self._api.messages_send_parts(
            peer_id, text, random_id=random_id,
            attachment=attachments or None,
            reply_to=int(item.reply_to) if item.reply_to else None,
        )
        return str(ids[0])

    async def _upload(self, peer_id: int, attachment: Attachment) -> str:
        data = await self._files.fetch(attachment)
        name = attachment.name or f"{attachment.kind}.bin"
        if attachment.kind == "photo":
            return await upload_photo(self._api, peer_id, data, name)
        if attachment.kind == "voice":
            return await upload_doc(self._api, peer_id, data, name, type="audio_message")
        return await upload_doc(self._api, peer_id, data, name)

    async def send_text(self, chat_id: str, text: str, key: int = 0,
                        choices: Sequence[Sequence[Choice]] = ()) -> str:
        plain = html.unescape(_TAG.sub("", text))

        random_id = random_id_for(key)
        self._note(random_id, len(split_text(plain, self._api.text_limit)))

        async def send() -> int:
            return await self._api.messages_send(int(chat_id), plain, random_id=random_id,
                                                 keyboard=keyboard(choices))

        return str(await errors.call(send, bucket=self._api.rate.key))

    async def edit(self, chat_id: str, platform_message_id: str, message: Message,
                   reply_to: str | None) -> str | None:
        async def edit() -> None:
            await self._api.call("messages.edit", peer_id=int(chat_id),
                                 message_id=int(platform_message_id),
                                 message=plain_text(message))

        await errors.call(edit, bucket=self._api.rate.key)
        return None


class VkFiles:
    """The `FileSource` of VK: attachment URLs (photos, documents, voice) are plain HTTPS."""

    platform = PLATFORM

    def __init__(self, api: VkApi) -> None:
        self._api = api

    async def fetch(self, ref: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=self._api.timeout)
        async with self._api.session.get(ref, timeout=timeout) as resp:
            resp.raise_for_status()
            return await resp.read()

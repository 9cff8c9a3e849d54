"""Files of Telegram messages, for other platforms: getFile, then download."""

from __future__ import annotations

from aiogram import Bot

from adapters.telegram.sender import PLATFORM


class TelegramFiles:
    """The `FileSource` of Telegram (cloud Bot API: files up to 20 MB)."""

    platform = PLATFORM

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, ref: str) -> bytes:
        file = await self._bot.get_file(ref)
        if file.file_path is None:
            raise LookupError(f"Telegram has no path for file {ref}")
        data = await self._bot.download_file(file.file_path)
        assert data is not None  # no destination given: a BytesIO comes back
        return data.read()

"""A local Telegram Bot API emulator, driven by the real aiogram client in tests.

Quick tour::

    emu = TelegramEmulator()
    await emu.start()                       # emu.base_url == "http://127.0.0.1:PORT"
    bot = emu.add_bot("123456:TEST-token", username="relay_bot")
    group = emu.create_supergroup("Support", forum=True)
    anna = emu.add_user("Anna", username="anna")
    await emu.user_send(anna, anna.id, "hi")  # private chat with the bot
    ...
    await emu.wait_for(lambda: emu.messages(group, from_bot=True))
    await emu.stop()

The server answers ``/bot{token}/{method}`` and ``/file/bot{token}/{path}`` like Telegram and
``/_control/...`` for tests in another process. Nothing here imports the project or aiogram.
"""

from .emulator import TelegramEmulator
from .errors import ApiError, ControlError
from .limits import Violation
from .server import RequestRecord
from .state import BotRecord, UserRecord

__all__ = [
    "ApiError",
    "BotRecord",
    "ControlError",
    "RequestRecord",
    "TelegramEmulator",
    "UserRecord",
    "Violation",
]

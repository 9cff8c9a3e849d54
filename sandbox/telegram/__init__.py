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

Where Telegram's behaviour is undocumented the emulator takes the strict reading, so a client
that works here works on Telegram under either reading:

- text, caption and topic-name limits count UTF-16 code units (Telegram may count code
  points; a text within the UTF-16 limit fits both);
- an admin bot posting into a closed topic gets ``TOPIC_CLOSED`` unless
  ``closed_topic_admin_bypass`` is on (run client tests both ways);
- ``message_thread_id=1`` (General) and thread ids in private chats answer
  "message thread not found"; replies outside topics carry the replied thread's root as
  ``message_thread_id`` without ``is_topic_message``, as Telegram does;
- ``copyMessages``/``forwardMessages`` skip what they can't copy and answer only the copies;
- a Premium user's caption over the bot's 1024 (people: 2048) is copied only as it is: a
  ``copyMessage`` with a reply target or a keyboard answers "message caption is too long"
  (TDLib's own rule, see ``methods/copying.py``; a topic alone is no change there);
- ``editMessageCaption`` refuses messages that have no caption (stickers, video notes,
  locations); a moving live location reaches bots as ``edited_message``;
- ``getUpdates`` answers 409 while a webhook is set; updates are then POSTed to it one per
  request with the secret header, at most ``max_connections`` at a time, a chat's next
  update only after the previous one was answered 200; any other answer redelivers it after
  ``options.webhook_retry_delay`` (``options.webhook_allow_http`` lets tests use http://);
- a bot never receives its own messages, except the service messages the official server
  passes on (the topics it creates, edits, closes and reopens, its pins, title changes);
- faults can hit a random share of calls (``chance``), drawn from the seeded ``faults.rng``.
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

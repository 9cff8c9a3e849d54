"""A local MAX Bot API emulator (platform-api2.max.ru as documented in 2026), for relaydesk's
MAX adapter.

Quick tour::

    emu = MaxEmulator()
    await emu.start()                        # emu.base_url == "http://127.0.0.1:PORT"
    bot = emu.add_bot("Support")             # bot.token, bot.user.user_id
    anna = emu.add_user("Anna", "Smirnova")
    emu.user_send(anna, "hi")                # -> message_created for GET /updates
    await emu.wait_for(lambda: emu.sent_to(anna))   # the bot answered
    await emu.stop()

Routes: the API (``/me``, ``/updates``, ``/messages``, ``/answers``, ``/uploads``,
``/subscriptions``, ``/chats/{id}/actions``), ``/upload/{slot}`` (the upload hosts),
``/files/{key}`` (attachment URLs) and ``/_control/...`` (the control API for another
process). Nothing here imports the project.

Behaviour, as the published schema and the official clients describe it:
- auth only by the raw ``Authorization`` header; anything else is 401 ``verify.token``;
- errors are ``{"code", "message"}`` with the HTTP status; 30 requests/s per token (429
  ``too.many.requests``, no Retry-After), switchable with ``set_rate_limit``;
- ``GET /updates``: the marker confirms every earlier update; without one only the latest
  update comes; ``timeout`` holds the request; nothing comes while a webhook is set;
- markers and ``seq`` are int64s above 2**53; message ids are ``mid.<hex>``; dialog chat
  ids are positive, group chat ids negative;
- ``POST /messages`` over 4000 characters is 400; to a dialog whose user stopped the bot 403
  ``chat.denied``; a file/audio/sticker/contact must be the only attachment;
- ``PUT /messages``: ``attachments`` null or omitted leaves them, ``[]`` removes them all;
- uploads take three steps with their own answers; an upload stays
  ``attachment.not.ready`` for ``options.attachment_ready_after`` seconds;
- webhooks: one bare update per POST with ``X-Max-Bot-Api-Secret``, pushed again after
  ``options.webhook_retry_delays`` until answered 200 (``fail_pushes`` loses a 200).
"""

from .emulator import MaxEmulator
from .limits import Violation
from .server import RequestRecord
from .state import BotRecord, ControlError, MaxError, UserRecord

__all__ = ["BotRecord", "ControlError", "MaxEmulator", "MaxError", "RequestRecord",
           "UserRecord", "Violation"]

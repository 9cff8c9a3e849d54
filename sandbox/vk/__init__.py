"""A local VK API emulator (API 5.199, community token), for relaydesk's VK transport.

Quick tour::

    emu = VkEmulator()
    await emu.start()                          # emu.base_url == "http://127.0.0.1:PORT"
    club = emu.add_community(name="Support")   # club.id, club.token
    anna = emu.add_user("Anna", "Smirnova", screen_name="anna_s")
    await emu.user_send(anna, club, "hi", attachments=["photo"])    # -> message_new
    # the client: POST {base_url}/method/groups.getLongPollServer, then GET {server}?act=a_check
    await emu.wait_for(lambda: emu.messages(club, anna.id)[1:])     # the community answered
    # Callback API instead of the long poll: confirm a server, then every event is POSTed
    await emu.set_callback_server(club, "http://127.0.0.1:8080/vk/callback", "secret1")
    await emu.stop()

Callback API (callback.py): the server is confirmed by answering ``club.confirmation_code``
to ``{"type": "confirmation", "group_id": …}``; events go one at a time in order with
``secret``; anything but 200 ``ok`` is retried with ``X-Retry-Counter`` after
``options.callback_retry_delays``, then dropped; ``emu.callback_attempts(club)`` lists every
POST, ``emu.lose_callback_answers(n)`` loses our next answers.

Routes: ``/method/{name}`` (the API), ``/lp/{group_id}`` (Bots Long Poll), ``/upload/...``
(upload_url targets), ``/files/{key}`` (attachment URLs) and ``/_control/...`` (the control
API for tests in another process). Nothing here imports the project.

Decisions where VK's behaviour is unverified (each is one place to change):
- text limit 4096 (``emu.options.text_limit``; newer docs say 9000) -> error 914;
- check order: token (5), ``v`` (8), rate limit (6/29), unknown method (3), then the method;
- the rate limit (20 requests/s per token) is ON by default; error 29 after 20
  groups.getLongPollServer calls per minute; rejected calls do not count but are violations;
- ``random_id=0`` disables deduplication; a duplicate answers the first message's id;
- a customer who writes grants permission (even after a deny); unknown peers -> error 100;
- uploaded photos/docs belong to the community (owner_id = -group id); attaching another
  owner's photo/doc needs its access_key;
- a_check without ``wait`` waits 25 s; failed 1 carries the current ts (events in between are
  lost); getLongPollServer issues a new key each call and old keys stay valid until expired;
- messages.delete answers ``{"<message id>": 1, ...}``;
- messages sent through the API carry no ``admin_author_id`` (``options.
  admin_author_on_api_sends`` gives them the community admin's, as the web inbox does);
- Callback API: the confirmation request carries no secret; events go to one server, one at
  a time, 25 s timeout; retries after 1, 5, 15, 30, 60 s, then the event is dropped;
- messages.getConversations lists conversations with a message, newest first;
  messages.getHistory is newest first (``rev=1``: oldest first), count at most 200.
"""

from .emulator import VkEmulator
from .errors import ControlError, VkApiError
from .limits import Violation
from .server import RequestRecord
from .state import Community, UserRecord

__all__ = [
    "Community",
    "ControlError",
    "RequestRecord",
    "UserRecord",
    "Violation",
    "VkApiError",
    "VkEmulator",
]

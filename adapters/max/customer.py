"""The MAX channel, incoming: updates → intake calls (the same for long polling and webhook
pushes).

A batch is handled before its marker is saved, so a failing handler or a crash never loses
an update; one that comes again is deduplicated (messages by intake, the rest here).
Updates of one customer are handled in order, customers concurrently. Group chats the bot
was added to are not customers of this desk: ignored, logged once per chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from typing import Any

from core.intake.service import IntakeService
from core.model import InboundCustomerMessage, InboundEdit, InboundPress
from core.presses import Presses

from .convert import PLATFORM, content_of, profile_of, reply_id, sent_at
from .errors import MaxApiError, MaxNetworkError
from .transport import MaxApi

logger = logging.getLogger(__name__)

Update = dict[str, Any]
CHANNEL = "max"
POISON_LIMIT = 5  # an update failing this many times is logged in full and skipped
UPDATE_TYPES = ("message_created", "message_edited", "message_removed", "message_callback",
                "bot_started", "bot_stopped")


class MaxIntake:
    """The update handler of one bot."""

    def __init__(self, intake: IntakeService, api: MaxApi, presses: Presses | None = None,
                 remember: int = 10_000) -> None:
        self._intake = intake
        self._api = api
        self._presses = presses or Presses()
        self._failures: dict[str, int] = {}
        self._groups_seen: set[int] = set()
        # Updates other than messages (intake deduplicates those) handled lately: a webhook
        # retry or a re-polled batch must not greet or answer a press twice.
        self._done: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self.handled = 0

    async def handle(self, updates: list[Update]) -> None:
        """Handle a batch; raises (so the same batch comes again) if any update failed."""
        by_user: dict[str, list[Update]] = defaultdict(list)
        for update in updates:
            by_user[_user_of(update)].append(update)
        results = await asyncio.gather(*(self._handle_user(u) for u in by_user.values()))
        if not all(results):
            raise RuntimeError("some MAX updates failed; the batch is asked for again")

    async def _handle_user(self, updates: list[Update]) -> bool:
        for update in updates:
            key = update_key(update)
            try:
                if key not in self._done:
                    await self._update(update)
                    self._remember_done(update, key)
                self.handled += 1
                self._failures.pop(key, None)
            except Exception:
                count = self._failures.get(key, 0) + 1
                self._failures[key] = count
                if count >= POISON_LIMIT:
                    logger.exception("MAX update failed %d times; skipping it: %s", count,
                                     update)
                    self._failures.pop(key, None)
                    continue
                logger.exception("MAX update %s failed (attempt %d)", key, count)
                return False  # keep this customer's order: the rest waits
        return True

    def _remember_done(self, update: Update, key: str) -> None:
        if update.get("update_type") in ("message_created", "message_edited"):
            return  # intake knows these itself
        self._done[key] = None
        while len(self._done) > self._remember:
            self._done.popitem(last=False)

    async def _update(self, update: Update) -> None:
        kind = update.get("update_type")
        if kind == "message_created":
            await self._message(update)
        elif kind == "message_edited":
            await self._edited(update)
        elif kind == "message_removed":
            await self._intake.mark_removed(PLATFORM, str(update.get("user_id")),
                                            str(update.get("message_id")),
                                            sent_at(update.get("timestamp")))
        elif kind == "message_callback":
            await self._press(update)
        elif kind == "bot_started":
            user_id = str((update.get("user") or {}).get("user_id"))
            # Reachable again; the deep-link payload (if any) says where they came from.
            await self._intake.set_reachable(CHANNEL, user_id, True)
            await self._intake.greet(CHANNEL, user_id)
        elif kind == "bot_stopped":
            user_id = str((update.get("user") or {}).get("user_id"))
            await self._intake.set_reachable(CHANNEL, user_id, False)

    def _customer_message(self, update: Update) -> dict[str, Any] | None:
        """The message of a dialog update, or None for group chats, channels and bots."""
        message = update.get("message") or {}
        recipient = message.get("recipient") or {}
        sender = message.get("sender")
        if recipient.get("chat_type") != "dialog":
            chat = int(recipient.get("chat_id") or 0)
            if chat not in self._groups_seen:
                self._groups_seen.add(chat)
                logger.info("MAX: ignoring chat %s (%s): relaydesk serves dialogs only", chat,
                            recipient.get("chat_type"))
            return None
        if not isinstance(sender, dict) or sender.get("is_bot") or not sender.get("user_id"):
            return None
        return message

    async def _message(self, update: Update) -> None:
        message = self._customer_message(update)
        if message is None:
            return
        sender = message["sender"]
        user_id = str(sender["user_id"])
        await self._intake.relay_customer_to_desk(InboundCustomerMessage(
            channel=CHANNEL, user_id=user_id, chat_id=user_id,
            message_id=str((message.get("body") or {}).get("mid")),
            profile=profile_of(sender, update.get("user_locale")),
            content=content_of(message), sent_at=sent_at(message.get("timestamp")),
            reply_to_message_id=reply_id(message),
        ))

    async def _edited(self, update: Update) -> None:
        message = self._customer_message(update)
        if message is None:
            return
        await self._intake.apply_edit(InboundEdit(
            platform=PLATFORM, chat_id=str(message["sender"]["user_id"]),
            message_id=str((message.get("body") or {}).get("mid")),
            content=content_of(message), edited_at=sent_at(update.get("timestamp")),
        ))

    async def _press(self, update: Update) -> None:
        """A callback button: the press, then its answer (`POST /answers`), which only
        shows a notification; a failed answer is logged, the press stands."""
        callback = update.get("callback") or {}
        user_id = str((callback.get("user") or {}).get("user_id"))
        mid = ((update.get("message") or {}).get("body") or {}).get("mid")
        answer = await self._presses.press(InboundPress(
            CHANNEL, user_id, user_id, str(callback.get("payload") or ""),
            str(mid) if mid else None))
        if not answer:
            return
        try:
            await self._api.request("POST", "/answers",
                                    {"callback_id": callback.get("callback_id")},
                                    {"notification": answer[:200]})
        except (MaxApiError, MaxNetworkError) as exc:
            logger.warning("MAX: answering callback %s failed: %s",
                           callback.get("callback_id"), exc)


def update_key(update: Update) -> str:
    """What identifies an update when it comes again (MAX gives updates no id)."""
    message = update.get("message") or {}
    mid = (message.get("body") or {}).get("mid") or update.get("message_id")
    callback = (update.get("callback") or {}).get("callback_id")
    return ":".join(str(p) for p in (update.get("update_type"), update.get("timestamp"),
                                     mid, callback, update.get("chat_id")))


def _user_of(update: Update) -> str:
    message = update.get("message") or {}
    for source in ((update.get("callback") or {}).get("user"), update.get("user"),
                   message.get("sender")):
        if isinstance(source, dict) and source.get("user_id"):
            return str(source["user_id"])
    return str(update.get("user_id") or update_key(update))

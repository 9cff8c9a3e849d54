"""Control API: people (customers, operators, group admins) acting in Telegram."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from . import humans, topics
from .base import BotRef, EmulatorBase, UserRef
from .delivery import new_message, publish
from .errors import ControlError
from .state import Json


class PeopleApi(EmulatorBase):
    # ---- people acting ------------------------------------------------------------------
    async def user_send(
        self,
        user: UserRef,
        chat_id: int,
        text: str,
        thread_id: int | None = None,
        reply_to: int | None = None,
        entities: list[Json] | None = None,
        *,
        bot: BotRef = None,
    ) -> Json:
        """A text message by a person. Private chat: ``chat_id == user.id``; entities are
        auto-detected (commands, mentions, links) unless given."""
        person = self._user(user)
        chat = self._person_chat(person, chat_id, bot)
        content = humans.text_content(text, entities)
        msg = humans.post(
            self.state, person, chat, content, thread_id=thread_id, reply_to=reply_to
        )
        await asyncio.sleep(0)
        return self._render(msg)

    async def user_send_media(
        self,
        user: UserRef,
        chat_id: int,
        kind: str,
        caption: str | None = None,
        media_group_id: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
        data: bytes | None = None,
        *,
        caption_entities: list[Json] | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        bot: BotRef = None,
        **fields: Any,
    ) -> Json:
        """kind: photo document video voice video_note sticker animation audio (files) or
        location contact poll dice venue; ``fields`` fill in e.g. latitude, emoji, question."""
        person = self._user(user)
        chat = self._person_chat(person, chat_id, bot)
        content = humans.media_message(
            self.state,
            person,
            kind,
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            fields=fields,
        )
        if caption is not None:
            if kind not in ("photo", "document", "video", "animation", "voice", "audio"):
                raise ControlError(f"{kind} messages have no caption")
            content.update(humans.caption_content(person, caption, caption_entities))
        msg = humans.post(
            self.state,
            person,
            chat,
            content,
            thread_id=thread_id,
            reply_to=reply_to,
            media_group_id=media_group_id,
        )
        await asyncio.sleep(0)
        return self._render(msg)

    async def user_send_album(
        self,
        user: UserRef,
        chat_id: int,
        kinds: Iterable[str],
        caption: str | None = None,
        thread_id: int | None = None,
        *,
        bot: BotRef = None,
    ) -> list[Json]:
        """An album: one message per item sharing a media_group_id, caption on the first."""
        group_id = self.state.new_media_group_id()
        sent = []
        for index, kind in enumerate(kinds):
            sent.append(
                await self.user_send_media(
                    user,
                    chat_id,
                    kind,
                    caption=caption if index == 0 else None,
                    media_group_id=group_id,
                    thread_id=thread_id,
                    bot=bot,
                )
            )
        return sent

    async def user_edit(
        self,
        user: UserRef,
        chat_id: int,
        message_id: int,
        text: str | None = None,
        caption: str | None = None,
        *,
        entities: list[Json] | None = None,
        media: str | None = None,
        data: bytes | None = None,
        bot: BotRef = None,
    ) -> Json:
        """Edit text or caption, or (``media``: photo, video, animation, audio, document)
        replace the file of a media message, as Telegram's clients allow."""
        person = self._user(user)
        chat = self._person_chat(person, chat_id, bot)
        changes: Json = {}
        if text is not None:
            changes.update(text=text, entities=entities)
        if caption is not None:
            changes.update(caption=caption, caption_entities=entities)
        if media is not None:
            changes["media"] = {"kind": media, "data": data}
        if not changes:
            raise ControlError("user_edit needs text=, caption= or media=")
        msg = humans.edit(self.state, person, chat, message_id, changes)
        await asyncio.sleep(0)
        return self._render(msg)

    async def user_move_live_location(
        self, user: UserRef, chat_id: int, message_id: int, latitude: float, longitude: float,
        *, bot: BotRef = None,
    ) -> Json:
        """Send a live location with ``user_send_media(kind="location", live_period=N)``."""
        person = self._user(user)
        chat = self._person_chat(person, chat_id, bot)
        msg = humans.move_live_location(self.state, person, chat, message_id, latitude, longitude)
        await asyncio.sleep(0)
        return self._render(msg)

    async def user_allows_write_access(self, user: UserRef, *, bot: BotRef = None) -> Json:
        """The person lets the bot write first (a Web App's requestWriteAccess): their private
        chat gets a ``write_access_allowed`` service message, which the bot receives."""
        person = self._user(user)
        chat = self._person_chat(person, person.id, bot)
        chat.started = True
        content: Json = {"write_access_allowed": {"from_request": True}}
        msg = publish(self.state, new_message(chat, person.id, content, service=True))
        await asyncio.sleep(0)
        return self._render(msg)

    async def user_delete(
        self, user: UserRef, chat_id: int, message_id: int, *, bot: BotRef = None
    ) -> None:
        """A person deletes their own message. Bots get no update for deletions (the Bot API
        has none), so the bot learns of it only when a copy or reply finds it gone."""
        person = self._user(user)
        chat = self._person_chat(person, chat_id, bot)
        msg = chat.live_message(message_id)
        if msg is None or msg.sender_id != person.id or msg.service:
            raise ControlError(f"user {person.id} has no message {message_id} in {chat.id}")
        msg.deleted = True
        self.state.notifier.notify()
        await asyncio.sleep(0)

    async def user_block_bot(self, user: UserRef, bot: BotRef = None) -> None:
        humans.set_blocked(self.state, self._user(user), self._bot_for(bot), True)
        await asyncio.sleep(0)

    async def user_unblock_bot(self, user: UserRef, bot: BotRef = None) -> None:
        humans.set_blocked(self.state, self._user(user), self._bot_for(bot), False)
        await asyncio.sleep(0)

    async def user_press_button(
        self, user: UserRef, chat_id: int, message_id: int, data: str, *, bot: BotRef = None
    ) -> str:
        """Press an inline button; returns the callback query id."""
        person = self._user(user)
        chat = self._person_chat(person, chat_id, bot)
        query_id = humans.press_button(self.state, person, chat, message_id, data)
        await asyncio.sleep(0)
        return query_id

    # ---- topics as a human admin would manage them -------------------------------------
    def create_topic(
        self,
        chat_id: int,
        name: str,
        icon_color: int = topics.ICON_COLORS[0],
        *,
        by: UserRef | None = None,
    ) -> int:
        chat = self._forum(chat_id)
        actor = self._user(by) if by is not None else self.group_owner(chat_id)
        return topics.create_topic(self.state, chat, actor.id, name, icon_color).thread_id

    def close_topic(self, chat_id: int, thread_id: int, *, by: UserRef | None = None) -> None:
        self._set_closed(chat_id, thread_id, True, by)

    def reopen_topic(self, chat_id: int, thread_id: int, *, by: UserRef | None = None) -> None:
        self._set_closed(chat_id, thread_id, False, by)

    def rename_topic(
        self, chat_id: int, thread_id: int, name: str, *, by: UserRef | None = None
    ) -> None:
        chat = self._forum(chat_id)
        actor = self._user(by) if by is not None else self.group_owner(chat_id)
        topics.edit_topic(self.state, chat, self._topic(chat, thread_id), actor.id, name, None)

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        chat = self._forum(chat_id)
        topics.delete_topic(self.state, chat, self._topic(chat, thread_id))

    def _set_closed(self, chat_id: int, thread_id: int, closed: bool, by: UserRef | None) -> None:
        chat = self._forum(chat_id)
        topic = self._topic(chat, thread_id)
        if topic.closed != closed:
            actor = self._user(by) if by is not None else self.group_owner(chat_id)
            topics.set_closed(self.state, chat, topic, actor.id, closed)

"""``VkEmulator``: the server plus the Python control API tests drive it with."""

from __future__ import annotations

import secrets

from aiohttp import web

from ..common.lifecycle import ServedApp
from .callback import CallbackPusher
from .control import ControlApi
from .errors import ControlError
from .inspection import InspectionApi
from .people import PeopleApi
from .server import MAX_BODY
from .state import CallbackServer, Community, Json, UserRecord


class VkEmulator(PeopleApi, InspectionApi, ServedApp):
    """A local VK API (5.199, community tokens). See ``sandbox/vk/__init__.py`` for the tour."""

    client_max_size = MAX_BODY

    def __init__(self) -> None:
        super().__init__()
        self.control = ControlApi(self)
        self.callbacks = CallbackPusher(self.state)

    # ---- lifecycle ----------------------------------------------------------------------
    def _routes(self) -> list[list[web.RouteDef]]:
        return [
            self.control.routes(),
            self.server.routes(),
            self.longpoll.routes(),
            self.uploads.routes(),
        ]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        base_url = await super().start(host, port)
        # Method answers carry absolute URLs (long-poll server, upload slots).
        self.state.base_url = base_url
        self.callbacks.start()
        return base_url

    async def stop(self) -> None:
        await self.callbacks.stop()
        await super().stop()

    # ---- Callback API -------------------------------------------------------------------
    async def set_callback_server(self, community: Community | int, url: str,
                                  secret: str | None = None) -> CallbackServer:
        """Register and confirm a Callback API server (as an admin does in the community's
        settings); from then on every event is POSTed to it. Raises ControlError when it
        does not answer the community's ``confirmation_code``."""
        return await self.callbacks.register(self._community(community), url, secret)

    def lose_callback_answers(self, times: int = 1) -> None:
        """The next ``times`` answers of the callback server get lost on the way back: VK
        sends the same event again (with X-Retry-Counter)."""
        self.callbacks.lose_answers += times

    def callback_attempts(self, community: Community | int) -> list[Json]:
        """Every POST of an event: event_id, type, attempt (0 first), status, answer, lost."""
        server = self._community(community).callback
        return list(server.attempts) if server is not None else []

    # ---- world setup --------------------------------------------------------------------
    def add_community(
        self,
        group_id: int | None = None,
        name: str = "Support",
        token: str | None = None,
        *,
        screen_name: str | None = None,
        bot_capabilities: bool = True,
    ) -> Community:
        """A community with a bot token (``.id`` positive, peer id ``-id``) and an admin user
        (``.admin_id``) who answers in the web inbox by default."""
        group_id = group_id or next(self.state.group_ids)
        token = token or f"vk1.a.{secrets.token_urlsafe(48)}"
        if group_id <= 0 or group_id in self.state.communities:
            raise ControlError(f"bad or duplicate community id {group_id}")
        if token in self.state.by_token:
            raise ControlError("token already in use")
        admin = self.add_user("Admin", name, screen_name=f"admin{group_id}")
        community = Community(
            id=group_id,
            name=name,
            screen_name=screen_name or f"club{group_id}",
            token=token,
            admin_id=admin.id,
            bot_capabilities=bot_capabilities,
        )
        self.state.communities[group_id] = community
        self.state.by_token[token] = community
        return community

    def add_user(
        self,
        first_name: str = "User",
        last_name: str = "Test",
        screen_name: str | None = None,
        lang_id: int = 0,
        *,
        sex: int = 0,
        user_id: int | None = None,
        is_closed: bool = False,
        deactivated: str | None = None,
    ) -> UserRecord:
        """A VK user (customer). lang_id goes into client_info (0 ru, 3 en, ...)."""
        user_id = user_id or next(self.state.user_ids)
        if user_id <= 0 or user_id in self.state.users:
            raise ControlError(f"bad or duplicate user id {user_id}")
        user = UserRecord(
            id=user_id,
            first_name=first_name,
            last_name=last_name,
            screen_name=screen_name or f"id{user_id}",
            lang_id=lang_id,
            sex=sex,
            is_closed=is_closed,
            deactivated=deactivated,
        )
        self.state.users[user_id] = user
        return user

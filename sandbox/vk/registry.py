"""Method registry and the ``Call`` a method implementation receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .errors import param_error
from .state import Community, Conversation, State, UserRecord

Handler = Callable[["Call"], Awaitable[Any]]
REGISTRY: dict[str, tuple[str, Handler]] = {}  # lower-case name -> (canonical name, handler)


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        REGISTRY[name.lower()] = (name, handler)
        return handler

    return register


@dataclass
class Call:
    state: State
    community: Community
    params: dict[str, str]
    method: str

    # ---- typed parameters ---------------------------------------------------------------
    def has(self, name: str) -> bool:
        return self.params.get(name, "") != ""

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        if not self.has(name):
            if required:
                raise param_error(f"{name} is a required parameter")
            return default if default is not None else ""
        return self.params[name]

    def int(self, name: str, default: int | None = None, *, required: bool = False) -> int:
        if not self.has(name):
            if required or default is None:
                raise param_error(f"{name} is a required parameter")
            return default
        try:
            return int(self.params[name])
        except ValueError:
            raise param_error(f"{name} not integer") from None

    def bool(self, name: str) -> bool:
        return self.params.get(name, "0").lower() in ("1", "true")

    def ints(self, name: str, *, required: bool = False) -> list[int]:
        raw = self.str(name, required=required)
        try:
            return [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise param_error(f"{name} must be a list of integers") from None

    # ---- lookups ------------------------------------------------------------------------
    def user(self, user_id: int) -> UserRecord | None:
        return self.state.users.get(user_id)

    def peer(self) -> int:
        """peer_id, or the older user_id."""
        if self.has("peer_id"):
            return self.int("peer_id")
        if self.has("user_id"):
            return self.int("user_id")
        raise param_error("peer_id is a required parameter")

    def conversation(self, peer_id: int) -> Conversation:
        return self.community.conversation(peer_id)

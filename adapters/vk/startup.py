"""Startup check of the VK community: fail fast with the fix named; a VK API server that
can't be reached is reported as such (the caller waits and tries again)."""

from __future__ import annotations

from typing import Any

from adapters.unreachable import ServerUnreachable, describe, server_name

from .errors import BAD_TOKEN, VkApiError, VkNetworkError
from .longpoll import VkLongPoll
from .transport import RETRIED_CODES, VkApi


class VkSetupError(Exception):
    """VK refuses our configuration; the message says how to fix it."""


async def check_community(api: VkApi, group_id: int) -> str:
    """Check the token and the community id; returns the community's name.

    Raises `VkSetupError` for what the admin must fix, `ServerUnreachable` while the VK API
    gives no usable answer (connection refused, DNS, timeout, 5xx, VK's own errors 6/10).
    """
    try:
        # One request per check: the caller's retries are the ones the admin sees.
        answer: Any = await api.request("groups.getById", {"group_id": group_id}, retries=0)
    except VkApiError as exc:
        if exc.code == BAD_TOKEN:
            raise VkSetupError(
                "vk.token: VK rejected the token (error 5). Create a community token with "
                "the messages, photos and docs rights (community → Manage → API usage)."
            ) from exc
        if exc.code in RETRIED_CODES:
            raise unreachable(api, exc) from exc
        raise VkSetupError(f"vk.group_id: VK refused community {group_id}: {exc}") from exc
    except VkNetworkError as exc:
        if exc.status is not None and exc.status < 500:
            raise VkSetupError(
                f"vk.api_server: {server_name(api.api_server)} answered HTTP {exc.status}. "
                "Check the address: it must be the VK API's base URL, e.g. https://api.vk.ru."
            ) from exc
        raise unreachable(api, exc) from exc
    groups = answer.get("groups") if isinstance(answer, dict) else answer
    group = (groups or [{}])[0]
    if int(group.get("id", group_id)) != group_id:
        raise VkSetupError(
            f"vk.group_id: the token belongs to community {group.get('id')}, not {group_id}"
        )
    return str(group.get("name", "?"))


async def connect_longpoll(api: VkApi, longpoll: VkLongPoll) -> None:
    """Get the long-poll server; raises `VkSetupError` when VK refuses it (the API is off
    in the community's settings), `ServerUnreachable` when VK gives no usable answer."""
    try:
        await longpoll.connect()
    except VkNetworkError as exc:
        raise unreachable(api, exc) from exc
    except VkApiError as exc:
        if exc.code in RETRIED_CODES:
            raise unreachable(api, exc) from exc
        raise VkSetupError(
            f"vk: groups.getLongPollServer failed ({exc}). In the community settings turn "
            "on Bots Long Poll API, version 5.199, with the message events."
        ) from exc


def unreachable(api: VkApi, exc: VkApiError | VkNetworkError) -> ServerUnreachable:
    """`exc` as a one-line `ServerUnreachable` naming the server (the token travels in the
    request body, never in these texts)."""
    if isinstance(exc, VkApiError):
        cause = f"VK error {exc.code} ({exc.msg})"
    elif exc.status is not None:
        cause = f"HTTP {exc.status}"
    elif exc.__cause__ is not None:
        cause = describe(exc.__cause__, api.timeout)
    else:
        cause = exc.detail
    return ServerUnreachable("VK API", "vk.api_server", server_name(api.api_server), cause)


async def check_confirmation(api: VkApi, group_id: int, confirmation: str) -> bool:
    """Callback mode: compare `vk.callback.confirmation` with the string VK asks this
    community's servers for. Raises `VkSetupError` when they differ (VK would never confirm
    the server), `ServerUnreachable` when VK gives no usable answer; False when the token may
    not read it (reading it needs the community's "manage" right), so it stays unchecked."""
    try:
        answer: Any = await api.request("groups.getCallbackConfirmationCode",
                                        {"group_id": group_id}, retries=0)
    except VkNetworkError as exc:
        raise unreachable(api, exc) from exc
    except VkApiError as exc:
        if exc.code in RETRIED_CODES:
            raise unreachable(api, exc) from exc
        return False
    code = str((answer or {}).get("code", "")) if isinstance(answer, dict) else ""
    if code and code != confirmation:
        raise VkSetupError(
            f"vk.callback.confirmation: it is not the string VK shows for community "
            f"{group_id} (Manage → API usage → Callback API → \"String to be returned\"); "
            "VK would never confirm the server")
    return bool(code)

"""Startup check of the VK community: fail fast with the fix named."""

from __future__ import annotations

from typing import Any

from .errors import BAD_TOKEN, VkApiError, VkNetworkError
from .transport import VkApi


class VkSetupError(Exception):
    """VK refuses our configuration; the message says how to fix it."""


async def check_community(api: VkApi, group_id: int) -> str:
    """Check the token and the community id; returns the community's name."""
    try:
        answer: Any = await api.call("groups.getById", group_id=group_id)
    except VkApiError as exc:
        if exc.code == BAD_TOKEN:
            raise VkSetupError(
                "vk.token: VK rejected the token (error 5). Create a community token with "
                "the messages, photos and docs rights (community → Manage → API usage)."
            ) from exc
        raise VkSetupError(f"vk.group_id: VK refused community {group_id}: {exc}") from exc
    except VkNetworkError as exc:
        raise VkSetupError(f"vk.api_server: can't reach {api.api_server}: {exc}") from exc
    groups = answer.get("groups") if isinstance(answer, dict) else answer
    group = (groups or [{}])[0]
    if int(group.get("id", group_id)) != group_id:
        raise VkSetupError(
            f"vk.group_id: the token belongs to community {group.get('id')}, not {group_id}"
        )
    return str(group.get("name", "?"))

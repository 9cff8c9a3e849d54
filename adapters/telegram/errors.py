"""aiogram exceptions → the core's delivery outcomes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from core.errors import (
    NotModified,
    PermanentError,
    RecipientUnreachable,
    RetryAfter,
    TopicClosed,
    TopicMissing,
    TransientError,
)

T = TypeVar("T")


def chat_bucket(chat_id: int | str) -> str:
    return f"tg:chat:{chat_id}"


async def call(chat_id: int | str, fn: Callable[[], Awaitable[T]], *, desk: bool = False) -> T:
    """Run one Bot API call and translate its failure into a core outcome."""
    try:
        return await fn()
    except TelegramRetryAfter as exc:
        raise RetryAfter(float(exc.retry_after), chat_bucket(chat_id), str(exc)) from exc
    except TelegramForbiddenError as exc:
        if desk:  # the bot lost the group: keep the queue, retry with backoff
            raise TransientError(exc.message) from exc
        raise RecipientUnreachable(exc.message) from exc
    except TelegramBadRequest as exc:
        # Matched on lower-cased substrings: the Bot API prefixes "Bad Request: " and passes
        # TDLib's sentences (first letter lowered) and MTProto's UPPER_CASE codes through.
        text = exc.message.lower()
        # A deleted topic: "message thread not found" when posting into it; TOPIC_ID_INVALID
        # when closing, reopening or renaming it; TOPIC_DELETED from MTProto directly.
        if any(s in text for s in ("message thread not found", "topic_deleted",
                                   "topic_id_invalid")):
            raise TopicMissing(exc.message) from exc
        if "topic_closed" in text:
            raise TopicClosed(exc.message) from exc
        if "message is not modified" in text or "topic_not_modified" in text:
            raise NotModified(exc.message) from exc
        raise PermanentError(exc.message) from exc
    except (TimeoutError, TelegramNetworkError, TelegramServerError) as exc:
        raise TransientError(str(exc)) from exc
    except TelegramAPIError as exc:  # unauthorized, conflict, not found: keep and retry
        raise TransientError(exc.message) from exc

"""The VK API over aiohttp: form-encoded method calls paced at the token's 20 requests/s,
bounded retries where repeating a call is harmless, and idempotent `messages.send`.

vk_api is synchronous (requests, no timeouts, retries error 6 forever), so every network call
of the adapter goes through this module instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters import plain
from adapters.plain import backoff_delay
from core.delivery.ratelimit import SlidingWindowLimiter
from core.ports import RateKey

from .errors import INTERNAL, TOO_MANY_REQUESTS, VkApiError, VkNetworkError

logger = logging.getLogger(__name__)

API_VERSION = "5.199"
TOKEN_RATE = 20  # requests per second per community token
TEXT_LIMIT = 4096  # older docs; newer say 9000 (unverified which VK enforces): split safely
RETRIED_CODES = frozenset({TOO_MANY_REQUESTS, INTERNAL})
# Writes that are safe to repeat (reads are recognised by name, messages.send by random_id).
IDEMPOTENT_WRITES = frozenset({"messages.markasread", "messages.setactivity"})

# random_id: VK takes a signed 32-bit integer and treats 0 as "no deduplication".
RANDOM_ID_SPAN = 2**31 - 1  # values 1 .. 2**31 - 1
MAX_PARTS = 64  # random ids reserved per delivery: a text is split into at most this many


def token_rate_key(group_id: int, count: int = TOKEN_RATE, window: float = 1.0) -> RateKey:
    """The community token's request budget as a limiter key."""
    return RateKey(f"vk:token:{group_id}", count, window)


def random_id_for(delivery_id: int, part: int = 0) -> int:
    """The `random_id` for part `part` of delivery `delivery_id`.

    Deterministic (a retry after a lost answer reuses it, so VK drops the repeat), never 0
    (0 turns deduplication off), within 1 .. 2**31 - 1. Each delivery owns `MAX_PARTS`
    consecutive values, so ids of different deliveries differ as long as the delivery ids are
    less than ~33.5 M apart — far beyond VK's deduplication window.
    """
    if not 0 <= part < MAX_PARTS:
        raise ValueError(f"part must be in 0..{MAX_PARTS - 1}, got {part}")
    return part_random_id(((delivery_id * MAX_PARTS) % RANDOM_ID_SPAN) + 1, part)


def part_random_id(random_id: int, part: int) -> int:
    """The random_id of part `part` of a message whose part 0 has `random_id`
    (``part_random_id(random_id_for(d), k) == random_id_for(d, k)``)."""
    return ((random_id - 1 + part) % RANDOM_ID_SPAN) + 1


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut `text` into parts of at most `limit` UTF-16 code units (the stricter way to count);
    see adapters.plain.split_text."""
    return plain.split_text(text, limit, plain.utf16_len)


def is_idempotent(method: str, params: Mapping[str, Any]) -> bool:
    """Whether repeating `method` after a lost answer cannot do anything twice."""
    name = method.lower()
    action = name.rpartition(".")[2]
    if action.startswith(("get", "is", "search")) or name in IDEMPOTENT_WRITES:
        return True
    if name == "messages.send":
        return str(params.get("random_id", "0")) not in ("", "0")
    return False


def encode(value: Any) -> str:
    """A VK form value: lists comma-separated, dicts as JSON, booleans as 1/0."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(encode(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


class VkApi:
    """Calls of one community token.

    Every call passes `limiter` under `rate` (the token's 20 requests/s; share the limiter
    and key with anything else that spends this token's budget, and do not count the same
    call again outside). Error 6 and 10, timeouts and cut connections are retried a bounded
    number of times with backoff, only for idempotent calls (reads, `messages.send` with a
    random_id); everything else is raised as `VkApiError` / `VkNetworkError`.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        token: str,
        api_server: str = "https://api.vk.ru",
        version: str = API_VERSION,
        *,
        limiter: SlidingWindowLimiter | None = None,
        rate: RateKey | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        text_limit: int = TEXT_LIMIT,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._token = token
        self.api_server = api_server.rstrip("/")
        self.version = version
        self.limiter = limiter or SlidingWindowLimiter()
        # Without a group id, name the budget after a fingerprint of the token (never the
        # token itself: keys end up in logs).
        fingerprint = hashlib.sha256(token.encode()).hexdigest()[:12]
        self.rate = rate or RateKey(f"vk:token:{fingerprint}", TOKEN_RATE, 1.0)
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.text_limit = text_limit

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session (created on first use when none was given)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the session if this object created it."""
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def call(self, method: str, /, **params: Any) -> Any:
        """``method`` with ``params`` (None values omitted) → its ``response``."""
        return await self.request(method, params)

    async def request(
        self, method: str, params: Mapping[str, Any] | None = None, *,
        idempotent: bool | None = None, retries: int | None = None,
    ) -> Any:
        """Like `call`; `idempotent` overrides the guess of `is_idempotent`, `retries` the
        number of retries this object was made with."""
        form = {k: encode(v) for k, v in (params or {}).items() if v is not None}
        repeatable = is_idempotent(method, form) if idempotent is None else idempotent
        retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            try:
                return await self._once(method, form)
            except VkApiError as exc:
                if not (repeatable and exc.code in RETRIED_CODES and attempt < retries):
                    raise
                delay = backoff_delay(attempt, self.backoff_base, self.backoff_max)
                if exc.code == TOO_MANY_REQUESTS:  # everyone on this token waits, not just us
                    self.limiter.pause(self.rate.key, delay)
                reason = f"error {exc.code}"
            except VkNetworkError as exc:
                if not ((repeatable or exc.unsent) and attempt < retries):
                    raise
                delay = backoff_delay(attempt, self.backoff_base, self.backoff_max)
                reason = exc.detail
            attempt += 1
            logger.warning("VK %s failed (%s); retry %d/%d in %.2fs",
                           method, reason, attempt, retries, delay)
            await asyncio.sleep(delay)

    async def _once(self, method: str, form: dict[str, str]) -> Any:
        data = {**form, "access_token": self._token, "v": self.version}
        url = f"{self.api_server}/method/{method}"
        recorded = await self.limiter.acquire((self.rate,))
        try:
            async with self.session.post(
                url, data=data, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as resp:
                if resp.status != 200:
                    raise VkNetworkError(method, f"HTTP {resp.status}", status=resp.status)
                body = await resp.json(content_type=None)
        except aiohttp.ClientConnectorError as exc:
            raise VkNetworkError(method, f"cannot connect: {exc}", unsent=True) from exc
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            detail = str(exc) or f"no answer within {self.timeout}s"
            raise VkNetworkError(method, f"{type(exc).__name__}: {detail}") from exc
        finally:
            self.limiter.settle((self.rate,), 1, recorded)
        if not isinstance(body, dict):
            raise VkNetworkError(method, "answer is not a JSON object")
        if "error" in body:
            error = body["error"] if isinstance(body["error"], dict) else {}
            raise VkApiError(
                int(error.get("error_code", 0)), str(error.get("error_msg", "")), method
            )
        if "response" not in body:
            raise VkNetworkError(method, "answer has neither response nor error")
        return body["response"]

    async def messages_send(
        self,
        peer_id: int,
        text: str,
        *,
        random_id: int,
        attachment: str | list[str] | None = None,
        reply_to: int | None = None,
        keyboard: str | dict[str, Any] | None = None,
    ) -> int:
        """Send `text` (split when longer than `text_limit`); the id of the first part.
        See `messages_send_parts`."""
        ids = await self.messages_send_parts(
            peer_id, text, random_id=random_id, attachment=attachment, reply_to=reply_to,
            keyboard=keyboard,
        )
        return ids[0]

    async def messages_send_parts(
        self,
        peer_id: int,
        text: str,
        *,
        random_id: int,
        attachment: str | list[str] | None = None,
        reply_to: int | None = None,
        keyboard: str | dict[str, Any] | None = None,
    ) -> list[int]:
        """Send `text` to `peer_id` as one message per part; the message ids in order.

        `random_id` is part 0's (`random_id_for(delivery_id)`); part k uses
        `part_random_id(random_id, k)`, so repeating the whole call after any failure sends
        each part at most once. The reply goes on the first part, attachments and keyboard
        on the last.
        """
        if random_id == 0:
            raise ValueError("random_id 0 turns off VK's deduplication")
        parts = split_text(text, self.text_limit)
        if len(parts) > MAX_PARTS:
            raise ValueError(f"text needs {len(parts)} parts, more than {MAX_PARTS}")
        ids: list[int] = []
        last = len(parts) - 1
        for index, part in enumerate(parts):
            message_id = await self.call(
                "messages.send",
                peer_id=peer_id,
                message=part or None,
                random_id=part_random_id(random_id, index),
                reply_to=reply_to if index == 0 else None,
                attachment=attachment if index == last else None,
                keyboard=keyboard if index == last else None,
            )
            ids.append(int(message_id))
        return ids

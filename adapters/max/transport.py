"""The MAX Bot API over aiohttp: the raw token in `Authorization`, JSON bodies, every request
paced by the one limiter at the bot's budget (30 requests/s), bounded retries only where
repeating a request is harmless.

MAX has no idempotency key: a `POST /messages` whose answer was lost is not repeated here;
the outbox decides (at-least-once, like Telegram).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import ssl
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from adapters import plain
from adapters.plain import backoff_delay
from core.delivery.ratelimit import SlidingWindowLimiter
from core.ports import RateKey

from .errors import MaxApiError, MaxNetworkError

logger = logging.getLogger(__name__)

API_SERVER = "https://platform-api2.max.ru"
BOT_RATE = 30  # requests per second, every request of the bot's token
TEXT_LIMIT = 4000  # characters of a message's text


def bot_rate_key(token: str, count: int = BOT_RATE, window: float = 1.0) -> RateKey:
    """The token's budget as a limiter key, named after a fingerprint of the token (keys end
    up in logs; the token never does)."""
    fingerprint = hashlib.sha256(token.encode()).hexdigest()[:12]
    return RateKey(f"max:bot:{fingerprint}", count, window)


def escaped_len(text: str) -> int:
    return len(html.escape(text, quote=False))


def split_text(text: str, limit: int = TEXT_LIMIT,
               measure: Callable[[str], int] = escaped_len) -> list[str]:
    """Cut `text` into parts whose `measure` (by default: the length once HTML-escaped, as
    sent with format html) is at most `limit`; see adapters.plain.split_text."""
    return plain.split_text(text, limit, measure)


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """The system's trust plus `ca_file` (the production host's chain ends in the Russian
    Trusted Root CA, which most systems do not ship). Verification always stays on."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


class MaxApi:
    """Requests of one bot token. GETs, PUTs (edits), `/answers` and 429s/5xx of anything
    that certainly did nothing are retried a bounded number of times with backoff; every
    request first passes `limiter` under `rate`."""

    def __init__(self, session: aiohttp.ClientSession, token: str,
                 api_server: str = API_SERVER, *, limiter: SlidingWindowLimiter | None = None,
                 rate: RateKey | None = None, timeout: float = 30.0, retries: int = 3,
                 backoff_base: float = 0.5, backoff_max: float = 8.0,
                 text_limit: int = TEXT_LIMIT) -> None:
        self.session = session
        self._token = token
        self.api_server = api_server.rstrip("/")
        self.limiter = limiter or SlidingWindowLimiter()
        self.rate = rate or bot_rate_key(token)
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.text_limit = text_limit

    async def request(self, method: str, path: str, query: Mapping[str, Any] | None = None,
                      body: Any = None, *, wait: float | None = None,
                      retries: int | None = None) -> Any:
        """``method path?query`` with JSON `body` → the JSON answer; raises `MaxApiError`,
        `MaxNetworkError`. `wait` replaces `timeout` for this request (long polls)."""
        params = {k: _q(v) for k, v in (query or {}).items() if v is not None}
        repeatable = method in ("GET", "PUT", "DELETE") or path == "/answers"
        retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            try:
                return await self._once(method, path, params, body, wait)
            except MaxApiError as exc:
                # A 429 did nothing, whatever the method: waiting a window is safe.
                if not (exc.status == 429 or (repeatable and exc.status >= 500)) \
                        or attempt >= retries:
                    raise
                delay = backoff_delay(attempt, self.backoff_base, self.backoff_max)
                if exc.status == 429:  # every request of this token waits, not just this one
                    self.limiter.pause(self.rate.key, delay)
                reason = f"{exc.status} {exc.code}"
            except MaxNetworkError as exc:
                if not ((repeatable or exc.unsent) and attempt < retries):
                    raise
                delay = backoff_delay(attempt, self.backoff_base, self.backoff_max)
                reason = exc.detail
            attempt += 1
            logger.warning("MAX %s %s failed (%s); retry %d/%d in %.2fs", method, path,
                           reason, attempt, retries, delay)
            await asyncio.sleep(delay)

    async def _once(self, method: str, path: str, params: dict[str, str], body: Any,
                    wait: float | None) -> Any:
        route = f"{method} {path}"
        total = self.timeout if wait is None else wait
        recorded = await self.limiter.acquire((self.rate,))
        try:
            async with self.session.request(
                method, self.api_server + path, params=params, json=body,
                headers={"Authorization": self._token},
                timeout=aiohttp.ClientTimeout(total=total),
            ) as resp:
                answer = await resp.json(content_type=None)
                status = resp.status
        except aiohttp.ClientConnectorError as exc:
            raise MaxNetworkError(route, f"cannot connect: {exc}", unsent=True) from exc
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            detail = str(exc) or f"no answer within {total}s"
            raise MaxNetworkError(route, f"{type(exc).__name__}: {detail}") from exc
        finally:
            self.limiter.settle((self.rate,), 1, recorded)
        if status != 200:
            error = answer if isinstance(answer, dict) else {}
            raise MaxApiError(status, str(error.get("code") or f"http.{status}"),
                              str(error.get("message") or ""), route)
        return answer

    async def download(self, url: str) -> bytes:
        """A file by the URL MAX gave (attachment URLs need no token)."""
        async with self.session.get(url, timeout=aiohttp.ClientTimeout(
                total=self.timeout)) as resp:
            resp.raise_for_status()
            return await resp.read()


def _q(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

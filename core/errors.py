"""Delivery outcomes that adapters raise so the core can apply one error policy."""

from __future__ import annotations


class DeliveryError(Exception):
    """Base of everything an adapter may raise from a send."""


class RetryAfter(DeliveryError):
    """The platform asked us to wait (Telegram 429): pause the bucket, do not count a failure."""

    def __init__(self, seconds: float, bucket: str | None = None, detail: str = "") -> None:
        super().__init__(detail or f"retry after {seconds}s")
        self.seconds = seconds
        self.bucket = bucket


class TransientError(DeliveryError):
    """Network trouble, 5xx, timeouts: retry with backoff."""


class RecipientUnreachable(DeliveryError):
    """The customer blocked the bot or denied messages: stop trying, tell operators."""


class TopicMissing(DeliveryError):
    """The operator topic was deleted: make a new one and retry."""


class TopicClosed(DeliveryError):
    """The operator topic is closed: reopen it and retry."""


class PermanentError(DeliveryError):
    """The platform refused this delivery for good (bad request): dead-letter it."""


class NotModified(DeliveryError):
    """An edit that changes nothing: treat as done."""

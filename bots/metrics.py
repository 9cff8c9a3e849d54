"""`/metrics` on the `http:` server, in Prometheus text format.

Counters and the latency histogram live in this process (Prometheus sums them over the
processes it scrapes); what the database knows for everyone (rows waiting in the outbox,
SLA breaches) is read from it at scrape time, so every process reports the same value.

That read is one statement, taken at most once per `DB_VALUES_MAX_AGE`: a Prometheus
scraping every 15 s gets fresh values each time, while anything scraping faster (several
Prometheus replicas, a dashboard, a loop on an unguarded /metrics) costs the shared
database at most one read a second per process, and scrapes arriving together share the
read in flight. Gauges kept up to date by every outbox write were the other way: a shared
counter row written with each delivery, contended across processes, to save a ~2 ms read
every 15 s.
`http.metrics_token` (optional) must then come as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from core.model import Action, Delivery
from storage.observe import ObservationStore

DB_VALUES_MAX_AGE = 1.0  # seconds a database read serves scrapes
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class _Breaches(Collector):
    """relaydesk_sla_breaches_total: the database's count, refreshed before each scrape."""

    def __init__(self) -> None:
        self.value = 0

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily("relaydesk_sla_breaches", "Missed SLA targets (all "
                                  "processes; from the database)", value=self.value)


class Metrics:
    """The process's metrics; also the outbox's `DeliveryEvents`."""

    def __init__(self, db_values_max_age: float = DB_VALUES_MAX_AGE) -> None:
        self._max_age = db_values_max_age
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter("relaydesk_updates", "Updates received from platforms",
                               ["channel"], registry=r)
        self.deliveries = Counter("relaydesk_deliveries", "Platform calls of the outbox, by "
                                  "how they ended", ["destination", "outcome"], registry=r)
        self.pending = Gauge("relaydesk_outbox_pending", "Outbox rows waiting or being sent "
                             "(all processes; from the database)", ["destination"], registry=r)
        self.latency = Histogram("relaydesk_relay_latency_seconds", "From the update stored "
                                 "to its copy delivered (first attempts)",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.flood_waits = Counter("relaydesk_flood_wait_seconds", "Pauses platforms asked "
                                  "for (429 retry_after)", ["target"], registry=r)
        self.breaches = _Breaches()
        r.register(self.breaches)
        self._read_at: float | None = None  # monotonic time of the last database read
        self._reading: asyncio.Task[None] | None = None

    # ---- DeliveryEvents ---------------------------------------------------------------
    def finished(self, deliveries: Sequence[Delivery], outcome: str, now: datetime) -> None:
        first = deliveries[0]
        self.deliveries.labels(first.target, outcome).inc(len(deliveries))
        if outcome != "delivered":
            return
        for delivery in deliveries:
            # A relay's first attempt is due when its update was stored: its wait is the
            # relay latency. Retried rows are due at their retry, so they are left out.
            if delivery.action is Action.RELAY and delivery.attempts == 0:
                self.latency.observe(max((now - delivery.next_attempt_at).total_seconds(), 0))

    def flood_wait(self, target: str, seconds: float) -> None:
        self.flood_waits.labels(target).inc(seconds)

    # ---- updates ----------------------------------------------------------------------
    def update_received(self, channel: str, count: int = 1) -> None:
        self.updates.labels(channel).inc(count)

    def telegram_middleware(self) -> BaseMiddleware:
        return _CountUpdates(self)

    def counting(self, channel: str, handle: Callable[[list[Any]], Awaitable[None]]
                 ) -> Callable[[list[Any]], Awaitable[None]]:
        """A batch handler (VK's long poll) that counts its events first."""
        async def counted(events: list[Any]) -> None:
            self.update_received(channel, len(events))
            await handle(events)
        return counted

    async def refresh(self, store: ObservationStore) -> None:
        """The database's values, read again once older than the max age."""
        if self._read_at is not None and \
                time.monotonic() - self._read_at < self._max_age:
            return
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read(store))
        await asyncio.shield(self._reading)  # a scrape cancelled leaves the read to the rest

    async def _read(self, store: ObservationStore) -> None:
        started = time.monotonic()
        pending, breaches = await store.scrape_counts()
        self.pending.clear()
        for destination, count in pending.items():
            self.pending.labels(destination).set(count)
        self.breaches.value = breaches
        self._read_at = started

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _CountUpdates(BaseMiddleware):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        self._metrics.update_received("telegram")
        return await handler(event, data)


class MetricsPart:
    """GET /metrics (an `http:` server part)."""

    name = "metrics"

    def __init__(self, metrics: Metrics, store: ObservationStore, token: str | None) -> None:
        self._metrics = metrics
        self._store = store
        self._token = token.encode() if token else None
        self.scrape_seconds = 0.0  # the last scrape's duration (bench/)

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/metrics", self.scrape)

    async def scrape(self, request: web.Request) -> web.Response:
        if self._token is not None:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").encode()
            if not hmac.compare_digest(given, self._token):
                return web.Response(status=401, text="metrics need http.metrics_token",
                                    headers={"WWW-Authenticate": "Bearer"})
        started = time.perf_counter()
        await self._metrics.refresh(self._store)
        body = self._metrics.render()
        self.scrape_seconds = time.perf_counter() - started
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

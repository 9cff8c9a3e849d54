"""Metrics and health on the `http:` server: the composition root's one call."""

from __future__ import annotations

from aiogram import Dispatcher

from bots.health import HealthPart, Intake
from bots.http import HttpServer
from bots.metrics import Metrics, MetricsPart
from bots.vk import VkParts
from core.clock import Clock
from core.delivery.outbox import Outbox
from storage.observe import ObservationStore


def observe(http: HttpServer | None, clock: Clock, dp: Dispatcher, outbox: Outbox,
            intake: Intake, vk: VkParts | None) -> Metrics | None:
    """Count updates and deliveries, and mount /metrics, /healthz and /readyz."""
    if http is None:
        return None
    metrics = Metrics()
    dp.update.outer_middleware(metrics.telegram_middleware())
    if vk is not None and vk.handler is not None:
        vk.handler.handle = metrics.counting("vk", vk.handler.handle)  # type: ignore[method-assign]
    outbox.observe(metrics)
    store = ObservationStore()
    token = http.config.metrics_token
    http.add(MetricsPart(metrics, store, token.get_secret_value() if token else None))
    http.add(HealthPart(store, clock, intake))
    return metrics

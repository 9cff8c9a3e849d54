"""Wiring of the website widget (when `web` is configured and enabled): the channel goes in
with the other channels, its closing listener on the lifecycle, its part on the HTTP server."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.web.channel import WebChannel, WebClosings, WebFiles
from adapters.web.details import WebCardLines, WebDetails
from adapters.web.guard import Guard, origin_of
from adapters.web.hub import Hub
from adapters.web.limits import RateLimits
from adapters.web.server import WebPart, WidgetLook
from adapters.web.tokens import VisitorTokens
from adapters.web.visitors import WebVisitors
from bots.config_http import HttpConfig
from bots.config_web import WebConfig
from bots.http import HttpServer
from core.clock import Clock
from core.delivery.topics import Topics
from core.files import Files
from core.intake.service import IntakeService
from core.ports import CustomerStore
from core.presses import Presses
from storage.web import TortoiseWebStore


@dataclass
class WebParts:
    config: WebConfig
    store: TortoiseWebStore
    hub: Hub
    channel: WebChannel
    clock: Clock
    part: WebPart | None = None

    @classmethod
    def build(cls, config: WebConfig | None, files: Files, clock: Clock) -> WebParts | None:
        if config is None or not config.enabled:
            return None
        store, hub = TortoiseWebStore(), Hub()
        files.register(WebFiles(store))
        return cls(config, store, hub, WebChannel(store, hub, clock), clock)

    def listener(self, customers: CustomerStore) -> WebClosings:
        return WebClosings(customers, self.store, self.hub)

    def details(self, customers: CustomerStore, topics: Topics) -> WebDetails:
        """The visitors' pages, stored for the cards of their topics."""
        topics.card_lines.append(WebCardLines(customers, self.store))
        return WebDetails(self.store)

    def mount(self, http: HttpServer, http_config: HttpConfig, intake: IntakeService,
              presses: Presses, files: Files, details: WebDetails) -> None:
        cfg = self.config
        visitors = WebVisitors(self.store, intake, presses, files, VisitorTokens(cfg.key),
                               self.hub, self.clock, details, max_text=cfg.max_text)
        origins = [*cfg.allowed_origins]
        if http_config.public_url:
            origins.append(origin_of(http_config.public_url))
        guard = Guard(origins, RateLimits(cfg.ip_rate.count, cfg.ip_rate.per.total_seconds()),
                      RateLimits(cfg.visitor_rate.count,
                                 cfg.visitor_rate.per.total_seconds()),
                      http.client.of)
        look = WidgetLook(cfg.title, cfg.color, cfg.max_upload, tuple(cfg.upload_types),
                          cfg.poll_wait.total_seconds(), cfg.max_sockets,
                          cfg.recheck.total_seconds())
        self.part = WebPart(visitors, self.hub, guard, look)
        http.add(self.part)

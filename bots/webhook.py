"""Webhook mode's place in the composition root: the route on the `http:` server and the
setWebhook call once the server listens."""

from __future__ import annotations

from aiogram import Bot, Dispatcher

from adapters.telegram.webhook import TelegramWebhook
from bots.config import Config
from bots.http import HttpServer


def telegram_webhook(config: Config, bot: Bot, dispatcher: Dispatcher,
                     http: HttpServer | None) -> TelegramWebhook | None:
    """The webhook part, mounted on `http` (config validation made sure both exist)."""
    tg = config.telegram
    if tg.mode != "webhook" or tg.webhook is None or http is None:
        return None
    webhook = TelegramWebhook(
        bot, dispatcher, path=tg.webhook.path, secret=tg.webhook.secret.get_secret_value(),
        url=http.config.url_for(tg.webhook.path),
        max_connections=tg.webhook.max_connections,
    )
    http.add(webhook)
    return webhook

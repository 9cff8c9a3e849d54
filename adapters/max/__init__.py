"""The MAX channel: an aiohttp client of the MAX Bot API (long polling or webhooks)."""

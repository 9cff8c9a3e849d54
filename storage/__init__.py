"""Persistence: tortoise-orm models, the TortoiseStore repositories and migrations."""

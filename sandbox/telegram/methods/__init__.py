"""Bot API method implementations; importing this package registers them all."""

from . import basic, copying, editing, sending, topics
from .registry import REGISTRY, Call, canonical_name

__all__ = [
    "REGISTRY",
    "Call",
    "basic",
    "canonical_name",
    "copying",
    "editing",
    "sending",
    "topics",
]

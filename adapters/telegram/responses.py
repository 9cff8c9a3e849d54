"""Keep aiogram's parametrized response models alive.

aiogram validates every Bot API answer with `Response[method.__returning__]`. pydantic caches
parametrized generic models in a `WeakValueDictionary`, and nothing else holds them, so every
garbage collection frees them and the next call builds the model class again (schema
generation, ~1 ms each). py-spy on a running relay showed this at ~7 % of its CPU. Holding
one strong reference per return type (41 of them, built once at start: ~60 ms, ~1 MB) keeps
the cache warm for good.
"""

from __future__ import annotations

from typing import Any

import aiogram.methods
from aiogram.methods.base import Response, TelegramMethod

_PINNED: dict[str, Any] = {}


def pin_response_models() -> int:
    """Build (once) and keep the response model of every Bot API method; returns how many."""
    if not _PINNED:
        for name in aiogram.methods.__all__:
            method = getattr(aiogram.methods, name)
            if not isinstance(method, type) or method is TelegramMethod:
                continue
            returning = getattr(method, "__returning__", None)
            if returning is not None and repr(returning) not in _PINNED:
                _PINNED[repr(returning)] = Response[returning]  # type: ignore[valid-type]
    return len(_PINNED)

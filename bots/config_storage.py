"""config.yaml's `storage:` section: a SQLite file (the embedded default) or a PostgreSQL
database, normalised and checked at load time."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import PrivateAttr, field_validator

from bots.config_errors import issue
from bots.config_secrets import redact_url
from bots.config_types import Section

DEFAULT_STORAGE_URL = "sqlite://data/relaydesk.sqlite3"
STORAGE_HINT = (
    "use sqlite://data/relaydesk.sqlite3 (a file path) or "
    "postgres://user:password@host:5432/dbname"
)


class StorageConfig(Section):
    """Where relaydesk keeps its data: a SQLite file or a PostgreSQL database."""

    url: str = DEFAULT_STORAGE_URL
    _tortoise_url: str = PrivateAttr(default="")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _normalise_storage_url(value)

    def model_post_init(self, context: Any, /) -> None:
        # Resolved once, at load time, so a later chdir cannot move the database.
        self._tortoise_url = _absolute_sqlite_url(self.url)

    @property
    def kind(self) -> Literal["sqlite", "postgres"]:
        return "sqlite" if self.url.startswith("sqlite://") else "postgres"

    @property
    def tortoise_url(self) -> str:
        """The URL for tortoise-orm; SQLite paths are absolute (the directory is not created)."""
        return self._tortoise_url

    def describe(self) -> str:
        """A one-line description without credentials, e.g. ``postgres db.local:5432/desk``."""
        rest = self._tortoise_url.partition("://")[2].partition("?")[0]
        if self.kind == "sqlite":
            return f"sqlite {rest}"
        return f"postgres {rest.rpartition('@')[2]}"

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        yield "url", redact_url(self.url)


def _normalise_storage_url(raw: str) -> str:
    url = raw.strip()
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or not scheme:
        raise issue("is not a database URL", STORAGE_HINT)
    if scheme == "sqlite":
        if not rest.partition("?")[0]:
            raise issue("a sqlite:// URL needs a file path", STORAGE_HINT)
        return f"sqlite://{rest}"
    if scheme in {"postgres", "postgresql", "asyncpg"}:
        _check_postgres_address(rest)
        return f"{'postgres' if scheme == 'postgresql' else scheme}://{rest}"
    shown = scheme if len(scheme) <= 20 else scheme[:20] + "..."
    raise issue(f"unsupported database {shown!r}; use sqlite or postgres", STORAGE_HINT)


def _check_postgres_address(rest: str) -> None:
    # Look only after the last "@": an unquoted password may contain ":" or "/".
    address = rest.rpartition("@")[2].partition("/")[0].partition("?")[0]
    port = address.rpartition("]")[2] if address.startswith("[") else address
    if ":" in port:
        digits = port.rpartition(":")[2]
        if not digits.isdigit() or not 0 < int(digits) < 65536:
            raise issue("the port in the URL must be a number from 1 to 65535", STORAGE_HINT)


def _absolute_sqlite_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    if scheme != "sqlite":
        return url
    path, question, query = rest.partition("?")
    if path == ":memory:":
        return url
    return f"sqlite://{os.path.abspath(os.path.expanduser(path))}{question}{query}"

"""Migration operations that exist on PostgreSQL only (its server-side functions)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Step = Callable[[Any, Any], Awaitable[None]]


def postgres_only(forward_sql: Sequence[str], backward_sql: Sequence[str]) -> tuple[Step, Step]:
    """`RunPython` callables that run these scripts on PostgreSQL and do nothing on SQLite."""

    def runner(scripts: Sequence[str]) -> Step:
        async def run(apps: Any, editor: Any) -> None:
            if editor.client.capabilities.dialect == "postgres":
                for sql in scripts:
                    await editor.client.execute_script(sql)

        return run

    return runner(forward_sql), runner(backward_sql)

"""Data: stop the response clocks of conversations that were closed without stopping them.

Until the conversation lifecycle, `/link` closed the other customer's open conversation
without stopping its deadlines, so the sweep went on reminding and escalating it. Closing
now stops them; this stops those left running, as of when the conversation was closed.
"""

from datetime import UTC, datetime
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops


def _us(value: Any) -> int:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1_000_000)


async def forward(apps: Any, editor: Any) -> None:
    client = editor.client
    postgres = client.capabilities.dialect == "postgres"
    _, rows = await client.execute_query(
        "SELECT DISTINCT c.id, c.closed_at FROM conversation c JOIN sla_deadline d"
        " ON d.conversation_id = c.id WHERE c.status = 'closed' AND d.stopped_us IS NULL"
        " AND c.closed_at IS NOT NULL")
    update = ("UPDATE sla_deadline SET stopped_us = $1, next_us = NULL WHERE conversation_id"
              " = $2 AND stopped_us IS NULL") if postgres else (
        "UPDATE sla_deadline SET stopped_us = ?, next_us = NULL WHERE conversation_id = ?"
        " AND stopped_us IS NULL")
    for row in rows:
        await client.execute_query(update, [_us(row["closed_at"]), row["id"]])


async def backward(apps: Any, editor: Any) -> None:
    """Nothing to undo: a stopped clock of a closed conversation is what it should be."""


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0007_claim_owner')]

    initial = False

    operations = [
        ops.RunPython(forward, backward),
    ]

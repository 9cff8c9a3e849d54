"""The outbox's queue by target (issue 15): each target's pending rows in id order.

The dispatcher's claim (`claim_heads`) reads a target's pending rows in id order until it
has found enough lane heads; through `delivery_due_idx` (status, target, due_us) it read
every pending row of the target and sorted them, on every look. Not a partial index on the
pending rows: PostgreSQL, its statistics behind a burst, took such an index for the lane
probes (`delivery_lane_idx`'s work) and read every pending row per candidate.
Both databases.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "CREATE INDEX IF NOT EXISTS delivery_queue_idx ON delivery (target, status, id)"
DROP = "DROP INDEX IF EXISTS delivery_queue_idx"


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0025_group_spares')]

    initial = False

    operations = [
        ops.RunSQL(INDEX, DROP),
    ]

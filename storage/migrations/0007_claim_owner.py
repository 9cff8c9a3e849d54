"""Which process claimed a row in flight, so that the rows of a process that died are given
back within a second instead of one lease later (PostgreSQL; see storage.liveness).

Every process holds a session-level advisory lock on its own number while it lives, and its
connections carry that number in the setting `relaydesk.owner`. A claim records it in
`delivery.owner`: the column's default for rows born claimed (intake's INSERTs, including
the functions of 0004), the claims' UPDATEs for the rest. PostgreSQL drops a dead process's
lock with its connection, and the others then give its rows back. On SQLite (one process)
the column stays empty.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from storage.pg_only import postgres_only

OWNER = "NULLIF(current_setting('relaydesk.owner', true), '')::integer"

DEFAULT = f"ALTER TABLE delivery ALTER COLUMN owner SET DEFAULT {OWNER}"
NO_DEFAULT = "ALTER TABLE delivery ALTER COLUMN owner DROP DEFAULT"

CLAIM_NEXT = f"""
CREATE OR REPLACE FUNCTION relaydesk_claim_next(
  p_lane text, p_held bigint[], p_now_us bigint, p_lease_us bigint, p_limit int)
RETURNS SETOF delivery
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_lane, 0));
  IF EXISTS (SELECT 1 FROM delivery WHERE lane = p_lane AND status = 'sending'
             AND NOT (id = ANY(p_held))) THEN
    RETURN;  -- somebody else's lane now
  END IF;
  -- The lane's leading due rows: nothing overtakes a row that is not due yet.
  RETURN QUERY UPDATE delivery SET status = 'sending', lease_us = p_lease_us,
      owner = {OWNER}
   WHERE id IN (
     SELECT d.id FROM delivery d WHERE d.lane = p_lane AND d.status = 'pending'
        AND d.due_us <= p_now_us
        AND d.id < COALESCE((SELECT MIN(f.id) FROM delivery f WHERE f.lane = p_lane
                             AND f.status = 'pending' AND f.due_us > p_now_us),
                            9223372036854775807)
      ORDER BY d.id LIMIT p_limit)
  RETURNING *;
  IF NOT FOUND THEN  -- nothing due: the row the lane waits for, left as it is
    RETURN QUERY SELECT * FROM delivery WHERE lane = p_lane AND status = 'pending'
      ORDER BY id LIMIT 1;
  END IF;
END $fn$;
"""

# Back to 0006's version, which does not know the column.
PREVIOUS = CLAIM_NEXT.replace(f",\n      owner = {OWNER}", "")

forward, backward = postgres_only([DEFAULT, CLAIM_NEXT], [NO_DEFAULT, PREVIOUS])


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0006_lane_next_due')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Delivery',
            name='owner',
            field=fields.IntField(null=True),
        ),
        ops.RunPython(forward, backward),
    ]

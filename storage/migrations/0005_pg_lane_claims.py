"""PostgreSQL only: a lane task's next claim under the lane's advisory lock.

Several processes may deliver from one PostgreSQL database. A lane belongs to whoever has a
row of it in flight (`sending`). Between a lane task completing its last row and claiming
the next ones, another process's dispatcher could claim the lane's head, and the first task
would then claim the rows behind it: two processes sending one lane, out of order (seen in
`test_two_processes_on_one_database_keep_every_lane_in_order`). Every claim of a lane now
holds the lane's advisory lock (intake's functions of 0004, this one, and the dispatcher's
`pg_try_advisory_xact_lock`), and this function, after the lock, sees every claim committed
before it (each statement of a PL/pgSQL function in READ COMMITTED takes a new snapshot):
it claims nothing while somebody else has a row of the lane in flight.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from storage.pg_only import postgres_only

CLAIM_NEXT = """
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
  RETURN QUERY UPDATE delivery SET status = 'sending', lease_us = p_lease_us
   WHERE id IN (
     SELECT d.id FROM delivery d WHERE d.lane = p_lane AND d.status = 'pending'
        AND d.due_us <= p_now_us
        AND d.id < COALESCE((SELECT MIN(f.id) FROM delivery f WHERE f.lane = p_lane
                             AND f.status = 'pending' AND f.due_us > p_now_us),
                            9223372036854775807)
      ORDER BY d.id LIMIT p_limit)
  RETURNING *;
END $fn$;
"""

DROP = "DROP FUNCTION IF EXISTS relaydesk_claim_next(text, bigint[], bigint, bigint, int)"


forward, backward = postgres_only([CLAIM_NEXT], [DROP])


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0004_pg_intake')]

    initial = False

    operations = [
        ops.RunPython(forward, backward),
    ]

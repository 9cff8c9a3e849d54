"""PostgreSQL only: a lane task's next claim also says when the lane's next row is due.

A lane task that finds nothing due ends, and the dispatcher, which leaves lanes in flight
out of its look-ahead, never learnt about the rows left behind (an album committed while
the lane was sending a text: due one album wait later, and nobody looked again). When it
claims nothing, `relaydesk_claim_next` now returns the lane's first pending row unclaimed
(status 'pending'), so the caller can hand its due time to the dispatcher.
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
  IF NOT FOUND THEN  -- nothing due: the row the lane waits for, left as it is
    RETURN QUERY SELECT * FROM delivery WHERE lane = p_lane AND status = 'pending'
      ORDER BY id LIMIT 1;
  END IF;
END $fn$;
"""

# Back to 0005's version.
PREVIOUS = CLAIM_NEXT.replace("""  IF NOT FOUND THEN  -- nothing due: the row the lane waits for, left as it is
    RETURN QUERY SELECT * FROM delivery WHERE lane = p_lane AND status = 'pending'
      ORDER BY id LIMIT 1;
  END IF;
""", "")


forward, backward = postgres_only([CLAIM_NEXT], [PREVIOUS])


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0005_pg_lane_claims')]

    initial = False

    operations = [
        ops.RunPython(forward, backward),
    ]

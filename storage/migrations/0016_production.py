"""PostgreSQL only: platform rate limits shared by every process on the database.

`rate_slot` holds the sends of the last window per key (a group, a customer chat, a bot);
`rate_pause` the pauses a platform announced (429 retry_after). `relaydesk_rate_take` looks
at every key under its advisory lock (taken in key order, so two callers never deadlock)
and either records `n` sends to all keys and returns their ids after a leading 0, or
records nothing and returns how many microseconds to wait first. One round trip per send;
SQLite runs one process, whose in-memory limiter is enough.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from storage.pg_only import postgres_only

TABLES = """
CREATE TABLE IF NOT EXISTS rate_slot (
    id BIGSERIAL PRIMARY KEY,
    key VARCHAR(96) NOT NULL,
    at_us BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_slot_key_idx ON rate_slot (key, at_us);
CREATE TABLE IF NOT EXISTS rate_pause (
    key VARCHAR(96) PRIMARY KEY,
    until_us BIGINT NOT NULL
);
"""

TAKE = """
CREATE OR REPLACE FUNCTION relaydesk_rate_take(p_keys TEXT[], p_counts INT[],
                                               p_windows_us BIGINT[], p_n INT)
RETURNS BIGINT[] LANGUAGE plpgsql AS $$
DECLARE
  v_now BIGINT := (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT;
  v_wait BIGINT := 0;
  v_key TEXT;
  v_i INT;
  v_count INT;
  v_over INT;
  v_at BIGINT;
  v_ids BIGINT[];
BEGIN
  FOR v_key IN SELECT k FROM unnest(p_keys) AS k ORDER BY k LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended('rate:' || v_key, 0));
  END LOOP;
  FOR v_i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
    DELETE FROM rate_slot WHERE key = p_keys[v_i] AND at_us <= v_now - p_windows_us[v_i];
    SELECT until_us INTO v_at FROM rate_pause WHERE key = p_keys[v_i];
    IF v_at IS NOT NULL THEN
      v_wait := greatest(v_wait, v_at - v_now);
    END IF;
    SELECT count(*) INTO v_count FROM rate_slot WHERE key = p_keys[v_i];
    v_over := v_count + least(p_n, p_counts[v_i]) - p_counts[v_i];
    IF v_over > 0 THEN
      SELECT at_us INTO v_at FROM rate_slot WHERE key = p_keys[v_i]
        ORDER BY at_us OFFSET v_over - 1 LIMIT 1;
      v_wait := greatest(v_wait, v_at + p_windows_us[v_i] - v_now);
    END IF;
  END LOOP;
  IF v_wait > 0 THEN
    RETURN ARRAY[v_wait];
  END IF;
  WITH added AS (
    INSERT INTO rate_slot (key, at_us)
    SELECT k, v_now FROM unnest(p_keys) AS k, generate_series(1, p_n)
    RETURNING id)
  SELECT array_agg(id) INTO v_ids FROM added;
  RETURN ARRAY[0::BIGINT] || coalesce(v_ids, ARRAY[]::BIGINT[]);
END $$;
"""

DROP = """
DROP FUNCTION IF EXISTS relaydesk_rate_take(TEXT[], INT[], BIGINT[], INT);
DROP TABLE IF EXISTS rate_slot;
DROP TABLE IF EXISTS rate_pause;
"""

forward, backward = postgres_only([TABLES, TAKE], [DROP])


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0015_web')]

    initial = False

    operations = [
        ops.RunPython(forward, backward),
    ]

"""PostgreSQL only: the hot path of intake as two server-side functions (called by storage.store).

A customer message to a conversation already waiting for an answer, and an operator answer
to a conversation already answered before, take one round trip each instead of six: the
function stores the message, its origin link and its delivery, and returns what the relay
needs. Anything else (a new customer, a changed profile, a conversation to open or a clock
to start, an album, a blocked customer) returns no row, and intake takes its general path.

The delivery is born claimed (status 'sending', leased) when its lane has nothing pending
or in flight: the lane's advisory lock is taken first, and every statement of a PL/pgSQL
function in READ COMMITTED sees the rows committed before it, so two callers for one lane
never both find it empty. SQLite needs none of this (its statements cost microseconds).

The OUT columns share names with table columns: `#variable_conflict use_column` reads a
bare name as the column.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from storage.pg_only import postgres_only

# The relay's delivery, born claimed when the lane has nothing pending or in flight (the
# lane's lock first: the check then sees every row committed before it).
_DELIVERY = """
  PERFORM pg_advisory_xact_lock(hashtextextended(v_lane, 0));
  v_claimed := p_lease_us IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM delivery WHERE lane = v_lane AND status IN ('pending', 'sending'));
  INSERT INTO delivery (lane, target, chat_id, action, message_id, conversation_id, status,
      attempts, due_us, lease_us, body, created_at)
    VALUES (v_lane, {target}, {chat}, 'relay', v_message, c.id,
      CASE WHEN v_claimed THEN 'sending' ELSE 'pending' END, 0, p_due_us,
      CASE WHEN v_claimed THEN p_lease_us END, '{{}}', p_now)
    RETURNING id INTO v_delivery;
"""

# A re-delivered update: refused like the origin link's unique key would, before anything
# is inserted (no sequence value spent, no work undone).
_DUPLICATE = """
  IF EXISTS (SELECT 1 FROM message_link WHERE platform = {platform} AND chat_id = p_chat_id
             AND platform_message_id = p_message_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'unique_violation',
      MESSAGE = 'platform message stored before';
  END IF;
"""

# The message, threaded to what it replied to when that is linked (else the platform id is
# kept, to be mapped at send time), and its origin link.
_MESSAGE = """
  IF p_reply_ref IS NOT NULL THEN
    SELECT l.message_id INTO v_reply FROM message_link l
     WHERE l.platform = {platform} AND l.chat_id = p_chat_id
       AND l.platform_message_id = p_reply_ref;
  END IF;
  INSERT INTO message (conversation_id, kind, author_id, author_name, content,
      source_platform, source_chat_id, source_message_id, reply_to_id, reply_ref, created_at)
    VALUES (c.id, '{kind}', {author}, {name}, p_content, {platform}, p_chat_id,
      p_message_id, v_reply, CASE WHEN v_reply IS NULL THEN p_reply_ref END, p_now)
    RETURNING id INTO v_message;
  INSERT INTO message_link (message_id, platform, chat_id, platform_message_id, is_origin)
    VALUES (v_message, {platform}, p_chat_id, p_message_id, TRUE);
"""

CUSTOMER = """
CREATE OR REPLACE FUNCTION relaydesk_customer_message(
  p_channel text, p_user_id text, p_chat_id text, p_username text, p_link text,
  p_name text, p_language text, p_message_id text, p_reply_ref text, p_content jsonb,
  p_author_name text, p_now timestamptz, p_due_us bigint, p_desk_chat text, p_lease_us bigint)
RETURNS TABLE (message_id int, reply_to_id int, delivery_id bigint, claimed boolean,
  conversation_id int, customer_id int, channel varchar, status varchar, topic_id bigint,
  card_posted boolean, reply_identity_id int, assignee_id varchar, opened_at timestamptz,
  first_response_at timestamptz, waiting_since timestamptz, acked_at timestamptz,
  answered_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
  v_identity int; v_customer int; c conversation%ROWTYPE; v_reply int; v_message int;
  v_lane text; v_claimed boolean; v_delivery bigint;
BEGIN
""" + _DUPLICATE.format(platform="p_channel") + """
  SELECT i.id, i.customer_id INTO v_identity, v_customer
    FROM identity i JOIN customer cu ON cu.id = i.customer_id
   WHERE i.channel = p_channel AND i.user_id = p_user_id AND i.chat_id = p_chat_id
     AND i.reachable AND i.username IS NOT DISTINCT FROM p_username
     AND (p_link IS NULL OR i.link = p_link)
     AND (p_name IS NULL OR cu.display_name = p_name)
     AND (p_language IS NULL OR cu.language = p_language);
  IF NOT FOUND THEN RETURN; END IF;
  SELECT * INTO c FROM conversation WHERE open_key = v_customer;
  IF NOT FOUND OR c.waiting_since IS NULL OR c.reply_identity_id <> v_identity THEN
    RETURN;
  END IF;
""" + _MESSAGE.format(kind="customer", author="p_user_id", name="p_author_name",
                    platform="p_channel") + """
  v_lane := 'desk:' || c.id;
""" + _DELIVERY.format(target="'desk'", chat="p_desk_chat") + """
  RETURN QUERY SELECT v_message, v_reply, v_delivery, v_claimed, c.id, c.customer_id,
    c.channel, c.status, c.topic_id, c.card_posted, c.reply_identity_id, c.assignee_id, c.opened_at,
    c.first_response_at, c.waiting_since, c.acked_at, c.answered_at;
END $fn$;
"""

OPERATOR = """
CREATE OR REPLACE FUNCTION relaydesk_operator_message(
  p_platform text, p_chat_id text, p_message_id text, p_topic_id bigint,
  p_operator_id text, p_operator_name text, p_content jsonb, p_reply_ref text,
  p_now timestamptz, p_due_us bigint, p_answered boolean, p_lease_us bigint)
RETURNS TABLE (message_id int, reply_to_id int, delivery_id bigint, claimed boolean,
  conversation_id int, identity_id int, customer_id int, channel varchar, user_id varchar,
  chat_id varchar, username varchar, link varchar)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
  c conversation%ROWTYPE; i identity%ROWTYPE; v_reply int; v_message int; v_lane text;
  v_claimed boolean; v_delivery bigint;
BEGIN
""" + _DUPLICATE.format(platform="p_platform") + """
  SELECT * INTO c FROM conversation WHERE topic_id = p_topic_id ORDER BY id DESC LIMIT 1;
  IF NOT FOUND OR c.waiting_since IS NOT NULL OR c.first_response_at IS NULL
     OR c.assignee_id IS NULL THEN
    RETURN;
  END IF;
  SELECT * INTO i FROM identity WHERE id = c.reply_identity_id;
  IF NOT FOUND OR NOT i.reachable THEN RETURN; END IF;
""" + _MESSAGE.format(kind="operator", author="p_operator_id", name="p_operator_name",
                    platform="p_platform") + """
  IF p_answered THEN
    UPDATE conversation SET answered_at = p_now WHERE id = c.id;
  END IF;
  v_lane := i.channel || ':' || i.chat_id;
""" + _DELIVERY.format(target="i.channel", chat="i.chat_id") + """
  RETURN QUERY SELECT v_message, v_reply, v_delivery, v_claimed, c.id, i.id, i.customer_id,
    i.channel, i.user_id, i.chat_id, i.username, i.link;
END $fn$;
"""

DROP = [
    "DROP FUNCTION IF EXISTS relaydesk_customer_message(text, text, text, text, text, text,"
    " text, text, text, jsonb, text, timestamptz, bigint, text, bigint)",
    "DROP FUNCTION IF EXISTS relaydesk_operator_message(text, text, text, bigint, text, text,"
    " jsonb, text, timestamptz, bigint, boolean, bigint)",
]


forward, backward = postgres_only([CUSTOMER, OPERATOR], DROP)


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0003_vk')]

    initial = False

    operations = [
        ops.RunPython(forward, backward),
    ]

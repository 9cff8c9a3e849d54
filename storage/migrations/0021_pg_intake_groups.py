"""PostgreSQL only: the one-statement intake (migration 0004) with departments' groups.

A topic id is unique only within its forum group, and a conversation's topic lives in the
group named by `conversation.desk_chat` (NULL: the operator group). The operator function
now takes that scope and looks the topic up within it, as the general path does
(`conversation_by_topic`); the customer function also returns the conversation's
department and group, so the relay posts into the right group without a read. With them
the one-statement path stays on when departments are configured.

The customer function's result and the operator function's arguments change: both are
dropped and made again (a changed result or argument list is another function).
"""

import importlib

from tortoise import migrations
from tortoise.migrations import operations as ops

from storage.pg_only import postgres_only

_0004 = importlib.import_module("storage.migrations.0004_pg_intake")

CUSTOMER = _0004.CUSTOMER.replace(
    "  answered_at timestamptz)\nLANGUAGE",
    "  answered_at timestamptz, department varchar, desk_chat varchar)\nLANGUAGE",
).replace(
    "c.first_response_at, c.waiting_since, c.acked_at, c.answered_at;",
    "c.first_response_at, c.waiting_since, c.acked_at, c.answered_at, c.department,\n"
    "    c.desk_chat;",
)

OPERATOR = _0004.OPERATOR.replace(
    "p_now timestamptz, p_due_us bigint, p_answered boolean, p_lease_us bigint)",
    "p_now timestamptz, p_due_us bigint, p_answered boolean, p_lease_us bigint,\n"
    "  p_desk_chat text)",
).replace(
    "SELECT * INTO c FROM conversation WHERE topic_id = p_topic_id ORDER BY id DESC LIMIT 1;",
    "SELECT * INTO c FROM conversation WHERE topic_id = p_topic_id\n"
    "     AND desk_chat IS NOT DISTINCT FROM p_desk_chat ORDER BY id DESC LIMIT 1;",
)

assert CUSTOMER != _0004.CUSTOMER and OPERATOR != _0004.OPERATOR  # the texts matched

DROP_NEW = [
    "DROP FUNCTION IF EXISTS relaydesk_customer_message(text, text, text, text, text, text,"
    " text, text, text, jsonb, text, timestamptz, bigint, text, bigint)",
    "DROP FUNCTION IF EXISTS relaydesk_operator_message(text, text, text, bigint, text, text,"
    " jsonb, text, timestamptz, bigint, boolean, bigint, text)",
]

forward, backward = postgres_only(
    [*_0004.DROP, CUSTOMER, OPERATOR],
    [*DROP_NEW, _0004.CUSTOMER, _0004.OPERATOR])


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0020_card_post')]

    initial = False

    operations = [
        ops.RunPython(forward, backward),
    ]

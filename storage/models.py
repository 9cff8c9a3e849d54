"""Tortoise models for the core model (`core/model.py`), plus service-level deadlines and cursors.

Times that the outbox compares in raw SQL (`due_us`, `lease_us`) are integer microseconds
since the epoch, so the same SQL works on SQLite (which stores datetimes as text) and
PostgreSQL.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Customer(Model):
    id = fields.IntField(primary_key=True)
    display_name = fields.CharField(max_length=256)
    language = fields.CharField(max_length=16, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "customer"


class Identity(Model):
    id = fields.IntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "relaydesk.Customer", related_name="identities", on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=16)
    user_id = fields.CharField(max_length=64)
    chat_id = fields.CharField(max_length=64)
    username = fields.CharField(max_length=128, null=True)
    link = fields.CharField(max_length=256, null=True)
    reachable = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "identity"
        unique_together = (("channel", "user_id"),)
        indexes = (Index(fields=("channel", "chat_id"), name="identity_chat_idx"),)


class Conversation(Model):
    id = fields.IntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "relaydesk.Customer", related_name="conversations", on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=16)
    status = fields.CharField(max_length=8)
    topic_id = fields.BigIntField(null=True, db_index=True)
    card_posted = fields.BooleanField(default=False)
    reply_identity_id = fields.IntField()
    assignee_id = fields.CharField(max_length=64, null=True)
    opened_at = fields.DatetimeField()
    first_response_at = fields.DatetimeField(null=True)
    waiting_since = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    # = customer_id while the conversation is not closed, NULL once closed: the unique
    # constraint makes a second open conversation for one customer impossible on every
    # database (NULLs never collide), not just unlikely under a lock.
    open_key = fields.IntField(null=True, unique=True)
    # Service levels: the last acknowledgement sent to the customer and the last human
    # operator answer (an acknowledgement right after a live answer would be noise).
    acked_at = fields.DatetimeField(null=True)
    answered_at = fields.DatetimeField(null=True)
    # The status emoji in the topic title: wanted (set on the clock's changes), shown (last
    # applied) and when a rename may happen (debounced; NULL when nothing is to be done).
    title_want = fields.CharField(max_length=8, null=True)
    title_mark = fields.CharField(max_length=8, null=True)
    title_due_at = fields.DatetimeField(null=True, db_index=True)
    # Why it was closed (core.lifecycle.CloseReason); reports leave out the conversations a
    # bot served alone.
    close_reason = fields.CharField(max_length=16, null=True)
    # Departments: the team and the group of its topic (NULL: the operator group).
    department = fields.CharField(max_length=32, null=True)
    desk_chat = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "conversation"


class Message(Model):
    id = fields.IntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "relaydesk.Conversation", related_name="messages", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=10)
    author_id = fields.CharField(max_length=64, null=True)
    author_name = fields.CharField(max_length=256, null=True)
    content = fields.JSONField()
    source_platform = fields.CharField(max_length=16, null=True)
    source_chat_id = fields.CharField(max_length=64, null=True)
    source_message_id = fields.CharField(max_length=64, null=True)
    reply_to_id = fields.IntField(null=True)
    # The platform id the author replied to, kept when it could not be mapped at intake (its
    # copy was not committed yet); the relay maps it again when it sends.
    reply_ref = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()
    edited_at = fields.DatetimeField(null=True)

    class Meta:
        table = "message"


class MessageLink(Model):
    id = fields.IntField(primary_key=True)
    message_id = fields.IntField(db_index=True)
    platform = fields.CharField(max_length=16)
    chat_id = fields.CharField(max_length=64)
    platform_message_id = fields.CharField(max_length=64)
    is_origin = fields.BooleanField()

    class Meta:
        table = "message_link"
        unique_together = (("platform", "chat_id", "platform_message_id"),)


class Delivery(Model):
    id = fields.BigIntField(primary_key=True)
    lane = fields.CharField(max_length=96)
    target = fields.CharField(max_length=16)
    chat_id = fields.CharField(max_length=64)
    action = fields.CharField(max_length=16)
    message_id = fields.IntField(null=True)
    conversation_id = fields.IntField(null=True)
    status = fields.CharField(max_length=8)
    attempts = fields.IntField(default=0)
    due_us = fields.BigIntField()
    lease_us = fields.BigIntField(null=True)
    # PostgreSQL: the process that claimed a `sending` row (see storage.liveness).
    owner = fields.IntField(null=True)
    group_key = fields.CharField(max_length=128, null=True)
    body = fields.JSONField(default=dict)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "delivery"
        indexes = (
            Index(fields=("lane", "status", "id"), name="delivery_lane_idx"),
            Index(fields=("status", "target", "due_us"), name="delivery_due_idx"),
        )


class SlaDeadline(Model):
    # One target of one conversation, keyed (conversation, kind, seq). `next_us` is when the
    # sweep must look at it again (the reminder, then the deadline), NULL once settled, so
    # the sweep is one range scan on its index. (Comments, not docstrings: tortoise turns a
    # model's docstring into a table comment, and a semicolon in it breaks the DDL.)

    id = fields.BigIntField(primary_key=True)
    conversation_id = fields.IntField()
    channel = fields.CharField(max_length=16)
    kind = fields.CharField(max_length=16)
    seq = fields.IntField()
    started_us = fields.BigIntField()
    due_us = fields.BigIntField()
    remind_us = fields.BigIntField(null=True)
    next_us = fields.BigIntField(null=True)
    reminded = fields.BooleanField(default=False)
    breached = fields.BooleanField(default=False)
    stopped_us = fields.BigIntField(null=True)  # when a human answered (or it was closed)
    stopped_by = fields.CharField(max_length=64, null=True)  # the operator who answered

    class Meta:
        table = "sla_deadline"
        unique_together = (("conversation_id", "kind", "seq"),)
        indexes = (
            Index(fields=("next_us",), name="sla_deadline_next_idx"),
            Index(fields=("started_us",), name="sla_deadline_started_idx"),
        )


class SlaBreach(Model):
    # A missed target: the unique key makes a second escalation for it impossible.

    id = fields.BigIntField(primary_key=True)
    conversation_id = fields.IntField()
    kind = fields.CharField(max_length=16)
    seq = fields.IntField()
    due_us = fields.BigIntField()
    breached_us = fields.BigIntField()

    class Meta:
        table = "sla_breach"
        unique_together = (("conversation_id", "kind", "seq"),)


class Cursor(Model):
    """Where a platform's update stream was last acknowledged, for platforms that keep no
    cursor of their own for us (VK Bots Long Poll's `ts`)."""

    name = fields.CharField(max_length=64, primary_key=True)
    value = fields.CharField(max_length=64)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "cursor"


class FaqTurn(Model):
    # Self-service (core/selfservice/): what the bot did with each customer message of a
    # conversation it held, the customers' presses, and the operators' /faq answers. The
    # context post, the report's self-service lines and `relaydesk faq suggest` read it.

    id = fields.BigIntField(primary_key=True)
    conversation_id = fields.IntField()
    at_us = fields.BigIntField()
    kind = fields.CharField(max_length=16)  # core.selfservice.ports.TurnKind
    entry_id = fields.CharField(max_length=64, null=True)
    score = fields.FloatField(null=True)
    lang = fields.CharField(max_length=16, null=True)
    text = fields.TextField(null=True)  # the customer's words, cut

    class Meta:
        table = "faq_turn"
        indexes = (
            Index(fields=("conversation_id", "id"), name="faq_turn_conversation_idx"),
            Index(fields=("at_us",), name="faq_turn_at_idx"),
        )


# ---- after the answer (core/feedback, core/abuse) --------------------------------------------


class CsatSurvey(Model):
    # The satisfaction survey (core/feedback/): at most one per conversation; the rating,
    # the comment, and the operator who answered last (the report credits them).

    id = fields.BigIntField(primary_key=True)
    conversation_id = fields.IntField(unique=True)
    customer_id = fields.IntField()
    channel = fields.CharField(max_length=32)
    operator_id = fields.CharField(max_length=64, null=True)
    operator_name = fields.CharField(max_length=256, null=True)
    lang = fields.CharField(max_length=16, null=True)
    asked_us = fields.BigIntField()
    expires_us = fields.BigIntField()
    rating = fields.SmallIntField(null=True)
    rated_us = fields.BigIntField(null=True)
    comment = fields.TextField(null=True)
    comment_until_us = fields.BigIntField(null=True)

    class Meta:
        table = "csat_survey"
        indexes = (
            Index(fields=("customer_id", "comment_until_us"), name="csat_customer_idx"),
            Index(fields=("rated_us",), name="csat_rated_idx"),
        )


class CustomerBan(Model):
    # /ban (core/abuse/): a customer whose messages are kept off the desk, until `until_us`
    # (none: until /unban) or `lifted_us`.

    id = fields.BigIntField(primary_key=True)
    customer_id = fields.IntField()
    by_id = fields.CharField(max_length=64)
    by_name = fields.CharField(max_length=256)
    reason = fields.TextField(null=True)
    at_us = fields.BigIntField()
    until_us = fields.BigIntField(null=True)
    lifted_us = fields.BigIntField(null=True)

    class Meta:
        table = "customer_ban"
        indexes = (Index(fields=("customer_id", "lifted_us"), name="customer_ban_idx"),)


class AbuseEvent(Model):
    # core/abuse/: a message kept off the desk (`suppressed`: banned) or combined into one
    # post (`combined`: flooding), and the one slow-down notice (`notice`); the report
    # counts them.

    id = fields.BigIntField(primary_key=True)
    customer_id = fields.IntField()
    conversation_id = fields.IntField()
    message_id = fields.BigIntField(null=True)
    at_us = fields.BigIntField()
    kind = fields.CharField(max_length=16)  # core.abuse.ports.EventKind

    class Meta:
        table = "abuse_event"
        indexes = (Index(fields=("at_us",), name="abuse_event_at_idx"),
                   Index(fields=("kind", "id"), name="abuse_event_kind_idx"),
                   Index(fields=("customer_id", "at_us"), name="abuse_event_customer_idx"))
class DepartmentWait(Model):
    # Departments (core/departments/): a new customer asked which team they want; the
    # conversation waits in status `bot` until they choose or `routing.ask_wait` passes.
    # `held`: the ids of their messages written meanwhile (JSON), relayed at the hand-over.

    conversation_id = fields.IntField(primary_key=True, generated=False)
    asked_at_us = fields.BigIntField()
    held = fields.TextField()

    class Meta:
        table = "department_wait"
        indexes = (Index(fields=("asked_at_us",), name="department_wait_at_idx"),)
class WebEvent(Model):
    # The website widget (adapters/web/): what each visitor's page shows, in order. The id
    # is what the page resumes from; `ref` makes every write idempotent for its visitor (a
    # client id resent, a delivery retried).

    id = fields.BigIntField(primary_key=True)
    visitor = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=16)  # adapters.web.ports.EventKind
    ref = fields.CharField(max_length=80, null=True)
    body = fields.TextField()  # JSON
    at_us = fields.BigIntField()

    class Meta:
        table = "web_event"
        unique_together = (("visitor", "ref"),)
        indexes = (Index(fields=("visitor", "id"), name="web_event_visitor_idx"),)


class WebFile(Model):
    # A file a website visitor attached (the widget's uploads): the desk fetches it from here.

    id = fields.BigIntField(primary_key=True)
    visitor = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    mime = fields.CharField(max_length=100)
    data = fields.BinaryField()
    at_us = fields.BigIntField()

    class Meta:
        table = "web_file"
# --- surge (core/delivery/spares.py, core/delivery/first_post.py) ---------------------------


class GroupSpare(Model):
    # A topic made while its group's budget was idle. Free while conversation_id is NULL;
    # once a conversation took it, the row waits for its title to be set, then goes. `chat`
    # is the group ('' the operator group, as conversation.desk_chat NULL is).

    id = fields.BigIntField(primary_key=True)
    chat = fields.CharField(max_length=32, default="")
    topic_id = fields.BigIntField()
    conversation_id = fields.IntField(null=True)
    made_us = fields.BigIntField()

    class Meta:
        table = "group_spare"
        unique_together = (("chat", "topic_id"),)


class FirstPost(Model):
    # The customer message posted together with its conversation's card: an edit of it
    # renders the card again.

    message_id = fields.BigIntField(primary_key=True)
    conversation_id = fields.IntField()

    class Meta:
        table = "first_post"


class CoalescedPart(Model):
    # A customer message that went out in a coalesced post (core/delivery/coalesce.py):
    # its edits render the post again, replies to it thread onto the post.

    message_id = fields.BigIntField(primary_key=True)
    conversation_id = fields.IntField()
    post_id = fields.CharField(max_length=64, db_index=True)
    posted_us = fields.BigIntField()

    class Meta:
        table = "coalesced_part"


class SurgePeriod(Model):
    # A time when more posts waited for the group's budget than one window lets through
    # (core/delivery/surge.py); /report lists them.

    id = fields.BigIntField(primary_key=True)
    chat = fields.CharField(max_length=32, default="")  # the group ('': the operator group)
    started_us = fields.BigIntField(db_index=True)
    ended_us = fields.BigIntField(null=True)
    peak = fields.IntField()

    class Meta:
        table = "surge_period"


# --- customer cards (core/delivery/cards.py) --------------------------------------------------


class CardPost(Model):
    # The posted card of a conversation (a post of its own; a card that shares the first
    # post is found through first_post): a ban or its end renders it again.

    conversation_id = fields.IntField(primary_key=True)
    post_id = fields.CharField(max_length=64)

    class Meta:
        table = "card_post"

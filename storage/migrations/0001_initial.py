from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Customer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('display_name', fields.CharField(max_length=256)),
                ('language', fields.CharField(null=True, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer', 'app': 'relaydesk', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Conversation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('relaydesk.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='conversations', on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=16)),
                ('status', fields.CharField(max_length=8)),
                ('topic_id', fields.BigIntField(null=True, db_index=True)),
                ('card_posted', fields.BooleanField(default=False)),
                ('reply_identity_id', fields.IntField()),
                ('assignee_id', fields.CharField(null=True, max_length=64)),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('first_response_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('waiting_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('open_key', fields.IntField(null=True, unique=True)),
            ],
            options={'table': 'conversation', 'app': 'relaydesk', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Delivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('lane', fields.CharField(max_length=96)),
                ('target', fields.CharField(max_length=16)),
                ('chat_id', fields.CharField(max_length=64)),
                ('action', fields.CharField(max_length=16)),
                ('message_id', fields.IntField(null=True)),
                ('conversation_id', fields.IntField(null=True)),
                ('status', fields.CharField(max_length=8)),
                ('attempts', fields.IntField(default=0)),
                ('due_us', fields.BigIntField()),
                ('lease_us', fields.BigIntField(null=True)),
                ('group_key', fields.CharField(null=True, max_length=128)),
                ('body', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'delivery', 'app': 'relaydesk', 'indexes': [Index(fields=['lane', 'status', 'id'], name='delivery_lane_idx'), Index(fields=['status', 'target', 'due_us'], name='delivery_due_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Identity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('relaydesk.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='identities', on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=16)),
                ('user_id', fields.CharField(max_length=64)),
                ('chat_id', fields.CharField(max_length=64)),
                ('username', fields.CharField(null=True, max_length=128)),
                ('link', fields.CharField(null=True, max_length=256)),
                ('reachable', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'identity', 'app': 'relaydesk', 'unique_together': (('channel', 'user_id'),), 'indexes': [Index(fields=['channel', 'chat_id'], name='identity_chat_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation', fields.ForeignKeyField('relaydesk.Conversation', source_field='conversation_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=10)),
                ('author_id', fields.CharField(null=True, max_length=64)),
                ('author_name', fields.CharField(null=True, max_length=256)),
                ('content', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('source_platform', fields.CharField(null=True, max_length=16)),
                ('source_chat_id', fields.CharField(null=True, max_length=64)),
                ('source_message_id', fields.CharField(null=True, max_length=64)),
                ('reply_to_id', fields.IntField(null=True)),
                ('reply_ref', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'message', 'app': 'relaydesk', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MessageLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message_id', fields.IntField(db_index=True)),
                ('platform', fields.CharField(max_length=16)),
                ('chat_id', fields.CharField(max_length=64)),
                ('platform_message_id', fields.CharField(max_length=64)),
                ('is_origin', fields.BooleanField()),
            ],
            options={'table': 'message_link', 'app': 'relaydesk', 'unique_together': (('platform', 'chat_id', 'platform_message_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

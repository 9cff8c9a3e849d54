"""Surge: spare operator topics made ahead of demand, and which message carries a
conversation's card (the topic's first post), the parts of coalesced posts, and
surge periods (for /report)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0016_production')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SpareTopic',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('topic_id', fields.BigIntField(unique=True)),
                ('conversation_id', fields.IntField(null=True)),
                ('made_us', fields.BigIntField()),
            ],
            options={'table': 'spare_topic', 'app': 'relaydesk', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FirstPost',
            fields=[
                ('message_id', fields.BigIntField(primary_key=True, unique=True, db_index=True)),
                ('conversation_id', fields.IntField()),
            ],
            options={'table': 'first_post', 'app': 'relaydesk', 'pk_attr': 'message_id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CoalescedPart',
            fields=[
                ('message_id', fields.BigIntField(primary_key=True, unique=True, db_index=True)),
                ('conversation_id', fields.IntField()),
                ('post_id', fields.CharField(max_length=64, db_index=True)),
                ('posted_us', fields.BigIntField()),
            ],
            options={'table': 'coalesced_part', 'app': 'relaydesk', 'pk_attr': 'message_id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SurgePeriod',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('started_us', fields.BigIntField(db_index=True)),
                ('ended_us', fields.BigIntField(null=True)),
                ('peak', fields.IntField()),
            ],
            options={'table': 'surge_period', 'app': 'relaydesk', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

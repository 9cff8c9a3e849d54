"""After the answer: the satisfaction survey (csat_survey), bans (customer_ban) and what
abuse protection kept off the desk (abuse_event)."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0009_selfservice')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CsatSurvey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation_id', fields.IntField(unique=True)),
                ('customer_id', fields.IntField()),
                ('channel', fields.CharField(max_length=32)),
                ('operator_id', fields.CharField(null=True, max_length=64)),
                ('operator_name', fields.CharField(null=True, max_length=256)),
                ('lang', fields.CharField(null=True, max_length=16)),
                ('asked_us', fields.BigIntField()),
                ('expires_us', fields.BigIntField()),
                ('rating', fields.SmallIntField(null=True)),
                ('rated_us', fields.BigIntField(null=True)),
                ('comment', fields.TextField(null=True, unique=False)),
                ('comment_until_us', fields.BigIntField(null=True)),
            ],
            options={'table': 'csat_survey', 'app': 'relaydesk', 'indexes': [Index(fields=['customer_id', 'comment_until_us'], name='csat_customer_idx'), Index(fields=['rated_us'], name='csat_rated_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomerBan',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer_id', fields.IntField()),
                ('by_id', fields.CharField(max_length=64)),
                ('by_name', fields.CharField(max_length=256)),
                ('reason', fields.TextField(null=True, unique=False)),
                ('at_us', fields.BigIntField()),
                ('until_us', fields.BigIntField(null=True)),
                ('lifted_us', fields.BigIntField(null=True)),
            ],
            options={'table': 'customer_ban', 'app': 'relaydesk', 'indexes': [Index(fields=['customer_id', 'lifted_us'], name='customer_ban_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AbuseEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer_id', fields.IntField()),
                ('conversation_id', fields.IntField()),
                ('message_id', fields.BigIntField(null=True)),
                ('at_us', fields.BigIntField()),
                ('kind', fields.CharField(max_length=16)),
            ],
            options={'table': 'abuse_event', 'app': 'relaydesk', 'indexes': [Index(fields=['at_us'], name='abuse_event_at_idx'), Index(fields=['kind', 'id'], name='abuse_event_kind_idx'), Index(fields=['customer_id', 'at_us'], name='abuse_event_customer_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

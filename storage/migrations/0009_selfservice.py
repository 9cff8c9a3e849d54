"""Self-service: why a conversation was closed, and the bot's turns (faq_turn)."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0008_stop_closed_clocks')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Conversation',
            name='close_reason',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.CreateModel(
            name='FaqTurn',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation_id', fields.IntField()),
                ('at_us', fields.BigIntField()),
                ('kind', fields.CharField(max_length=16)),
                ('entry_id', fields.CharField(null=True, max_length=64)),
                ('score', fields.FloatField(null=True)),
                ('lang', fields.CharField(null=True, max_length=16)),
                ('text', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'faq_turn', 'app': 'relaydesk', 'indexes': [Index(fields=['conversation_id', 'id'], name='faq_turn_conversation_idx'), Index(fields=['at_us'], name='faq_turn_at_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

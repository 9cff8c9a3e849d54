from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SlaBreach',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation_id', fields.IntField()),
                ('kind', fields.CharField(max_length=16)),
                ('seq', fields.IntField()),
                ('due_us', fields.BigIntField()),
                ('breached_us', fields.BigIntField()),
            ],
            options={'table': 'sla_breach', 'app': 'relaydesk', 'unique_together': (('conversation_id', 'kind', 'seq'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SlaDeadline',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation_id', fields.IntField()),
                ('channel', fields.CharField(max_length=16)),
                ('kind', fields.CharField(max_length=16)),
                ('seq', fields.IntField()),
                ('started_us', fields.BigIntField()),
                ('due_us', fields.BigIntField()),
                ('remind_us', fields.BigIntField(null=True)),
                ('next_us', fields.BigIntField(null=True)),
                ('reminded', fields.BooleanField(default=False)),
                ('breached', fields.BooleanField(default=False)),
                ('stopped_us', fields.BigIntField(null=True)),
                ('stopped_by', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'sla_deadline', 'app': 'relaydesk', 'unique_together': (('conversation_id', 'kind', 'seq'),), 'indexes': [Index(fields=['next_us'], name='sla_deadline_next_idx'), Index(fields=['started_us'], name='sla_deadline_started_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Conversation',
            name='acked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Conversation',
            name='answered_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Conversation',
            name='title_due_at',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Conversation',
            name='title_mark',
            field=fields.CharField(null=True, max_length=8),
        ),
        ops.AddField(
            model_name='Conversation',
            name='title_want',
            field=fields.CharField(null=True, max_length=8),
        ),
    ]

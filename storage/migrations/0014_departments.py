"""Departments: the team a conversation was routed to and the group of its topic; the
routing question a new customer was asked (department_wait)."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0013_feedback')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Conversation',
            name='department',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Conversation',
            name='desk_chat',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.CreateModel(
            name='DepartmentWait',
            fields=[
                ('conversation_id', fields.IntField(primary_key=True, generated=False)),
                ('asked_at_us', fields.BigIntField()),
                ('held', fields.TextField(unique=False)),
            ],
            options={'table': 'department_wait', 'app': 'relaydesk', 'indexes': [Index(fields=['asked_at_us'], name='department_wait_at_idx')], 'pk_attr': 'conversation_id'},
            bases=['Model'],
        ),
    ]

"""Spare topics per group: with departments in their own forum groups every group with its
own budget keeps its own spares. A topic id is unique only within its group, so the spares
move to `group_spare`, keyed by (chat, topic_id); `chat` is '' for the operator group (as
`conversation.desk_chat` NULL is), which is where every spare made so far lives. Surge
periods name their group the same way."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0021_pg_intake_groups')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GroupSpare',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat', fields.CharField(max_length=32, default='')),
                ('topic_id', fields.BigIntField()),
                ('conversation_id', fields.IntField(null=True)),
                ('made_us', fields.BigIntField()),
            ],
            options={'table': 'group_spare', 'app': 'relaydesk',
                     'unique_together': (('chat', 'topic_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunSQL(
            "INSERT INTO group_spare (chat, topic_id, conversation_id, made_us)"
            " SELECT '', topic_id, conversation_id, made_us FROM spare_topic ORDER BY id",
            "INSERT INTO spare_topic (topic_id, conversation_id, made_us)"
            " SELECT topic_id, conversation_id, made_us FROM group_spare WHERE chat = ''"
            " ORDER BY id"),
        ops.DeleteModel(name='SpareTopic'),
        # Surges per group too (every group has its own budget and its own notices).
        ops.AddField(
            model_name='SurgePeriod',
            name='chat',
            field=fields.CharField(max_length=32, default=''),
        ),
    ]

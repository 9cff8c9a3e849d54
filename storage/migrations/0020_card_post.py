"""Customer cards: the platform id of a conversation's posted card, to render it again."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0017_surge')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CardPost',
            fields=[
                ('conversation_id', fields.IntField(primary_key=True, unique=True, db_index=True)),
                ('post_id', fields.CharField(max_length=64)),
            ],
            options={'table': 'card_post', 'app': 'relaydesk', 'pk_attr': 'conversation_id'},
            bases=['Model'],
        ),
    ]

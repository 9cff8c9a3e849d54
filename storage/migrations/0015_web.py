"""The website widget: each visitor's events (web_event)."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0014_departments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WebEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('visitor', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=16)),
                ('ref', fields.CharField(null=True, max_length=80)),
                ('body', fields.TextField(unique=False)),
                ('at_us', fields.BigIntField()),
            ],
            options={'table': 'web_event', 'app': 'relaydesk', 'unique_together': (('visitor', 'ref'),), 'indexes': [Index(fields=['visitor', 'id'], name='web_event_visitor_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebFile',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('visitor', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('mime', fields.CharField(max_length=100)),
                ('data', fields.BinaryField()),
                ('at_us', fields.BigIntField()),
            ],
            options={'table': 'web_file', 'app': 'relaydesk', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

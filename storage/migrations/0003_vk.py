from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('relaydesk', '0002_sla')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Cursor',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('value', fields.CharField(max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'cursor', 'app': 'relaydesk', 'pk_attr': 'name', 'table_description': "Where a platform's update stream was last acknowledged, for platforms that keep no"},
            bases=['Model'],
        ),
    ]

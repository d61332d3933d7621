"""Running totals of each client's events per day and kind, backfilled from the events
already stored by `activity.rebuild`: one INSERT … SELECT … GROUP BY per client and kind
(set-based; the events are read through their (client, kind, occurred_at) index)."""

import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor):
    from tally.operations import activity

    activity.rebuild()


class Migration(migrations.Migration):

    dependencies = [
        ('clients', '0003_client_locale'),
        ('operations', '0008_reference_index_by_day'),
    ]

    operations = [
        migrations.CreateModel(
            name='DailyActivity',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('kind', models.CharField(choices=[('pick', 'Pick'), ('label', 'Shipping label'), ('stop', 'Delivery stop'), ('storage_day', 'Storage day')], max_length=32)),
                ('events', models.BigIntegerField()),
                ('quantity', models.BigIntegerField()),
                ('client', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clients.client')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('client', 'day', 'kind'), name='daily_activity_one_per_day_kind'), models.CheckConstraint(condition=models.Q(('events__gt', 0), ('quantity__gt', 0)), name='daily_activity_positive')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]

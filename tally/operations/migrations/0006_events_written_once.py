"""Events are written once: billing no longer points each event at its line."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0002_initial"),
        ("operations", "0005_event_block_index"),
        # Lines' events are copied into billed ranges before the column goes.
        ("invoicing", "0004_billedrange"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="event",
            name="event_unbilled_idx",
        ),
        migrations.RemoveIndex(
            model_name="event",
            name="event_line_keyset_idx",
        ),
        migrations.RemoveField(
            model_name="event",
            name="line",
        ),
    ]

"""The block index rating and the drilldown read, built before lines become ranges (the
copy into ranges reads it)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0004_covering_line_index_full_reference_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                fields=["client", "kind", "occurred_at", "id", "quantity"], name="event_block_idx"
            ),
        ),
    ]

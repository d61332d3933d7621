"""Lines bill ranges of events; each existing line's events become one range."""

from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models


def ranges_from_lines(apps, schema_editor):
    """One range per billed line: its events' span of time and of ids.

    A range must bill exactly the line's events. If another event of the client and kind
    falls inside the span (billed elsewhere, or unbilled), the data cannot be carried over
    as ranges and the migration stops, naming the line, rather than change what was billed.
    """
    from django.db.models import Count, Max, Min

    Event = apps.get_model("operations", "Event")
    BilledRange = apps.get_model("invoicing", "BilledRange")
    InvoiceLine = apps.get_model("invoicing", "InvoiceLine")
    invoice_of = dict(InvoiceLine.objects.values_list("id", "invoice_id"))
    spans = (
        Event.objects.filter(line__isnull=False)
        .values("line_id", "client_id", "kind")
        .annotate(
            first=Min("occurred_at"),
            last=Max("occurred_at"),
            low=Min("id"),
            high=Max("id"),
            n=Count("id"),
        )
    )
    ranges = []
    for s in spans:
        block = Event.objects.filter(
            client_id=s["client_id"],
            kind=s["kind"],
            occurred_at__gte=s["first"],
            occurred_at__lte=s["last"],
            id__gte=s["low"],
            id__lte=s["high"],
        )
        if block.count() != s["n"]:
            raise RuntimeError(
                f"invoice line {s['line_id']}: its events are not one contiguous block; "
                "void and re-generate its invoice before this migration"
            )
        ranges.append(
            BilledRange(
                client_id=s["client_id"],
                invoice_id=invoice_of[s["line_id"]],
                line_id=s["line_id"],
                kind=s["kind"],
                occurred_from=s["first"],
                occurred_to=s["last"] + timedelta(microseconds=1),
                after_id=s["low"] - 1,
                upto_id=s["high"],
            )
        )
    BilledRange.objects.bulk_create(ranges, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0002_initial"),
        ("invoicing", "0003_portal_table_indexes"),
        ("operations", "0004_covering_line_index_full_reference_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="BilledRange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("kind", models.CharField(max_length=32)),
                ("occurred_from", models.DateTimeField()),
                ("occurred_to", models.DateTimeField()),
                ("after_id", models.BigIntegerField()),
                ("upto_id", models.BigIntegerField()),
                (
                    "client",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="clients.client",
                    ),
                ),
                (
                    "invoice",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="invoicing.invoice",
                    ),
                ),
                (
                    "line",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ranges",
                        to="invoicing.invoiceline",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["client", "kind", "occurred_from"], name="billed_range_client_idx"
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("occurred_to__gt", models.F("occurred_from"))),
                        name="billed_range_time_ordered",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("after_id__gte", 0), ("upto_id__gt", models.F("after_id"))
                        ),
                        name="billed_range_ids_ordered",
                    ),
                ],
            },
        ),
        migrations.RunPython(ranges_from_lines, migrations.RunPython.noop),
    ]

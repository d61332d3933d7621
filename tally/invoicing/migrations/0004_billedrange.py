"""Lines bill ranges of events; each existing line's events become ranges that hold exactly them."""

from collections import defaultdict
from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models


def ranges_from_lines(apps, schema_editor):
    """Each billed line's events, as ranges that hold exactly those events.

    Usually a line's events are one block: its span of time and of ids holds no other event
    of the client and kind, and one range says it. Where another event falls inside (a
    price A → B → A in one period, a half-month run and then the full month with late
    events), the line's events are cut into runs at every other event, in (time, id) order;
    a run whose own span still holds another event (one at the same instant) becomes a
    range per event.
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
        in_span = Event.objects.filter(
            client_id=s["client_id"],
            kind=s["kind"],
            occurred_at__gte=s["first"],
            occurred_at__lte=s["last"],
        )
        if in_span.filter(id__gte=s["low"], id__lte=s["high"]).count() == s["n"]:
            blocks = [(s["first"], s["last"], s["low"] - 1, s["high"])]
        else:
            events = list(in_span.order_by("occurred_at", "id").values_list("id", "occurred_at", "line_id"))
            blocks = _exact_blocks(events, s["line_id"])
        ranges += [
            BilledRange(
                client_id=s["client_id"],
                invoice_id=invoice_of[s["line_id"]],
                line_id=s["line_id"],
                kind=s["kind"],
                occurred_from=first,
                occurred_to=last + timedelta(microseconds=1),
                after_id=after,
                upto_id=upto,
            )
            for first, last, after, upto in blocks
        ]
    BilledRange.objects.bulk_create(ranges, batch_size=1000)


def _exact_blocks(events, line_id):
    """(first, last, after, upto) blocks holding exactly the line's events among `events`
    (every event of the client and kind in the line's span, in (time, id) order)."""
    runs, run = [], []
    for event in events:
        if event[2] == line_id:
            run.append(event)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    # Another event strictly inside a run's span of time would have cut the run: only
    # those at its first or last instant can fall inside its block.
    others_at = defaultdict(list)
    for eid, at, owner in events:
        if owner != line_id:
            others_at[at].append(eid)
    blocks = []
    for run in runs:
        first, last = run[0][1], run[-1][1]
        after, upto = min(e[0] for e in run) - 1, max(e[0] for e in run)
        edge = others_at.get(first, []) + (others_at.get(last, []) if last != first else [])
        if any(after < eid <= upto for eid in edge):
            blocks += [(at, at, eid - 1, eid) for eid, at, _ in run]
        else:
            blocks.append((first, last, after, upto))
    return blocks


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0002_initial"),
        ("invoicing", "0003_portal_table_indexes"),
        ("operations", "0005_event_block_index"),
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

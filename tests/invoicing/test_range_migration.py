"""The migration to billed ranges keeps exactly what each line billed.

Built at the schema before it (events pointing at their lines), in the shapes the old
rating produced that are not one block per line: a price A → B → A in one period (the A
line's span holds the B line's event), a half-month run then the full month with late
events (a line's span holds another line's event), and two events at one instant.
"""

from datetime import UTC, date, datetime

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import billing_lines, make_client

BEFORE = [
    ("invoicing", "0003_portal_table_indexes"),
    ("operations", "0005_event_block_index"),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def test_every_line_keeps_exactly_its_events(tx_db):
    acme = make_client("acme-migrated")
    old = migrate(BEFORE)
    try:
        Event = old.get_model("operations", "Event")
        Invoice = old.get_model("invoicing", "Invoice")
        InvoiceLine = old.get_model("invoicing", "InvoiceLine")

        def invoice():
            return Invoice.objects.create(
                client_id=acme.pk,
                currency="USD",
                period_start=date(2026, 1, 1),
                period_end=date(2026, 1, 31),
            )

        def line(inv, micros):
            return InvoiceLine.objects.create(
                client_id=acme.pk,
                invoice=inv,
                kind="pick",
                description="Picks",
                quantity=0,
                unit_price_micros=micros,
                amount_minor=0,
            )

        def event(day, line, second=0):
            return Event.objects.create(
                client_id=acme.pk,
                kind="pick",
                occurred_at=datetime(2026, 1, day, 12, 0, second, tzinfo=UTC),
                quantity=1,
                reference=f"R{Event.objects.count()}",
                source="wms",
                external_id=f"e{Event.objects.count()}",
                payload_hash="x",
                line=line,
            )

        # Price A → B → A: the A line holds Jan 5 and Jan 25, the B line Jan 15.
        one = invoice()
        a, b = line(one, 100_000), line(one, 120_000)
        event(5, a), event(15, b), event(25, a)
        # Half month, then the full month with late events, and two at one instant.
        two = invoice()
        early, full = line(two, 300_000), line(two, 300_000)
        event(7, early), event(17, full), event(12, early), event(10, full)
        event(20, full, 1), event(20, None, 1), event(20, early, 1)
        # An unbilled event at the instant a run starts, with an id inside the run's ids:
        # that run becomes a range per event.
        event(23, early), event(22, None), event(22, early)
        expected = {e.pk: ([e.line_id] if e.line_id else []) for e in Event.objects.all()}
    finally:
        migrate(latest())
    assert billing_lines() == {pk: lines for pk, lines in expected.items()}

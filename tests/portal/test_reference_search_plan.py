"""The portal's reference search, inside the client scope, takes two statements whatever
the client's number of days, in every state of the planner's statistics
(tests/planner.py): the span of the client's events from the two ends of the block index
for each kind, then one statement that seeks the reference index (day, reference, client)
once per day of that span and finds the ranges that bill what it found, each invoice with
its first match (where the page opens it: no seeks of its own).

The scope puts the client beside the day and the reference (SQLite's views; PostgreSQL's
row security, a condition on the client): the plan must still seek by day, not read the
client's events through the block index, which leads with the client. Joined to a table
of days, SQLite with statistics first built a Bloom filter over every event of the client
(1 s at 5.8M events); with an IN list it read them all through the block index on this
test's data (and took 10 s on the benchmark's joined the other way). Before, the span was
a MIN/MAX over every range of the client, the days 100 to a statement, and the hit a seek
a day of its invoice until found (105 statements for one search of the benchmark's largest
client, bench/RESULTS.md)."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tally.audit.actors import SystemActor
from tally.operations.services import ingest_events
from tally.portal.queries import InvoiceFilters, invoice_page
from tally.portal.queries.search import _reference_matches
from tally.portal.scope import client_scope
from tests import planner
from tests.factories import event_rows, issued_invoice, make_client

TODAY = date(2026, 12, 20)


def _data():
    """The client's picks over 150 days, billed by one invoice a month, and another
    client's month."""
    acme, other = make_client("planner"), make_client("other")
    for client, per_day, months in ((acme, 20, range(1, 6)), (other, 10, range(3, 4))):
        for month in months:
            for day in range(1, 29):
                ingest_events(
                    actor=SystemActor.TESTS,
                    client=client,
                    rows=event_rows(
                        "pick",
                        per_day,
                        day=date(2026, month, day),
                        prefix=f"{client.code}-{month}-{day}",
                    ),
                )
    invoices = {
        (client.code, month): issued_invoice(
            client,
            picks=0,
            period=(date(2026, month, 1), date(2026, month, 28)),
            issue_date=date(2026, month, 28),
        )
        for client, months in ((acme, range(1, 6)), (other, range(3, 4)))
        for month in months
    }
    return acme, invoices


def _plans(state: str, acme, invoices) -> tuple[list[str], list[str]]:
    """The plans of the span's statement and of the search's, in the scope, after the
    page found March's invoice at its first event of March 3rd."""
    assert not planner.has_statistics()
    march = invoices["planner", 3]
    with client_scope(acme.pk):
        assert list(_reference_matches(acme.pk, "REF-planner-3-4")) == [march.pk]  # optimize's cue
        with planner.unscoped():
            planner.set_statistics(state)
    with CaptureQueriesContext(connection) as captured:
        page = invoice_page(acme.pk, TODAY, InvoiceFilters(search="REF-planner-3-3-"))
    assert [r.id for r in page.rows] == [march.pk]
    hit = page.reference_hit
    assert hit is not None and hit.invoice_id == march.pk
    assert hit.reference == "REF-planner-3-3-0" and hit.line_id == march.lines.get().pk
    events = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith(("SELECT", "WITH")) and "operations_event" in q["sql"]
    ]
    # The span, then the search: two statements for 150 days (before: 4 for the search,
    # then 3 for the hit, March 1 and 2 having none that starts so).
    assert len(events) == 2, events
    with client_scope(acme.pk):
        return planner.plan(events[0]), planner.plan(events[1])


@pytest.fixture
def forget_statistics(tx_db):
    yield
    planner.forget_sqlite_statistics()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("state", planner.SQLITE_STATES)
def test_sqlite_searches_by_reference_in_two_statements_that_seek_whatever_the_statistics(
    state, forget_statistics
):
    acme, invoices = _data()
    span, search = _plans(state, acme, invoices)
    # Each kind's first and last event: a seek of the block index's end, eight in all.
    seek = (
        "SEARCH main.operations_event USING COVERING INDEX event_block_idx (client_id=? AND kind=?)"
    )
    assert [step for step in span if "operations_event" in step] == [seek] * 8, span
    day_seek = (
        "SEARCH main.operations_event USING INDEX event_day_reference_client_idx "
        "(occurred_on=? AND reference>? AND reference<?)"
    )
    assert [step for step in search if "operations_event" in step] == [day_seek], search
    ranges = [step for step in search if "invoicing_billedrange" in step]
    by_kind_and_time = (
        "SEARCH main.invoicing_billedrange USING INDEX billed_range_client_idx "
        "(client_id=? AND kind=? AND occurred_from<?)"
    )
    if state in ("never analyzed", "benchmark"):
        assert ranges == [by_kind_and_time], search
    else:
        # With statistics of this test's six ranges, SQLite expects more events found than
        # there are ranges, and filters by a Bloom filter of the ranges, read once: never
        # one of the events.
        assert ranges == [
            "BLOOM FILTER ON main.invoicing_billedrange (client_id=? AND kind=?)",
            by_kind_and_time,
        ], search
    # The days outermost, and nothing read whole or built before the first seek.
    assert search.index("SCAN days") < search.index(day_seek), search
    assert not any("operations_event" in step for step in search if "BLOOM" in step), search
    assert not any("AUTOMATIC" in step for step in search), search


@pytest.mark.postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize("state", planner.POSTGRES_STATES)
def test_postgresql_searches_by_reference_in_two_statements_under_row_security(state):
    acme, invoices = _data()
    span, search = _plans(state, acme, invoices)
    text = "\n".join(span)
    assert "event_block_idx" in text and "event_day_reference_client_idx" not in text, text
    assert "Seq Scan" not in text and "Bitmap" not in text, text
    assert text.count("Limit") == 8, text
    text = "\n".join(search)
    assert "->  Function Scan on unnest d" in text, text
    assert planner.reads_events_only_through(search, "event_day_reference_client_idx"), text
    assert "Index Cond: ((occurred_on = d.day) AND ((reference)::text >= " in text, text
    # The row security's condition on the client, checked in the index's entries.
    assert "(client_id = (NULLIF(current_setting('tally.client_id'" in text, text
    assert "Hash Join" not in text and "Merge Join" not in text, text

"""The portal's reference search, inside the client scope, seeks the reference index
(day, reference, client) once per day in every state of the planner's statistics
(tests/planner.py), and so does the search for the event a hit opens at.

The scope puts the client beside the day and the reference (SQLite's views; PostgreSQL's
row security, a condition on the client): the plan must still seek by day, not read the
client's events through the block index, which leads with the client. Joined to a table
of days, SQLite with statistics first built a Bloom filter over every event of the client
(1 s at 5.8M events); with an IN list it read them all through the block index on this
test's data (and took 10 s on the benchmark's joined the other way)."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tally.audit.actors import SystemActor
from tally.operations.services import ingest_events
from tally.portal.queries import reference_hit
from tally.portal.queries.search import _invoices_billing_reference
from tally.portal.scope import client_scope
from tests import planner
from tests.factories import event_rows, issued_invoice, make_client


def _data():
    """A month of the client's picks billed by one invoice, and another client's month."""
    acme, other = make_client("planner"), make_client("other")
    for client, per_day in ((acme, 50), (other, 10)):
        for day in range(1, 29):
            ingest_events(
                actor=SystemActor.TESTS,
                client=client,
                rows=event_rows(
                    "pick", per_day, day=date(2026, 3, day), prefix=f"{client.code}-{day}"
                ),
            )
    invoices = [
        issued_invoice(
            client,
            picks=0,
            period=(date(2026, 3, 1), date(2026, 3, 31)),
            issue_date=date(2026, 4, 1),
        )
        for client in (acme, other)
    ]
    return acme, invoices[0]


def _plans(state: str, acme, invoice) -> tuple[list[str], list[str]]:
    """The plans of the search's statement and of the hit's first day, in the scope."""
    assert not planner.has_statistics()
    with client_scope(acme.pk):
        assert _invoices_billing_reference(acme.pk, "REF-planner") == [invoice.pk]  # optimize's cue
        with planner.unscoped():
            planner.set_statistics(state)
        with CaptureQueriesContext(connection) as captured:
            assert _invoices_billing_reference(acme.pk, "REF-") == [invoice.pk]
        [search] = [q["sql"] for q in captured.captured_queries if "reference >=" in q["sql"]]
        search_plan = planner.plan(search)
    with CaptureQueriesContext(connection) as captured:
        hit = reference_hit(acme.pk, invoice.pk, "REF-planner-3-")
    assert hit is not None and hit.reference == "REF-planner-3-0"
    days = [q["sql"] for q in captured.captured_queries if "occurred_on" in q["sql"]]
    assert len(days) == 3  # March 1 and 2 have none that starts so, March 3 has
    with client_scope(acme.pk):
        return search_plan, planner.plan(days[0])


@pytest.fixture
def forget_statistics(tx_db):
    yield
    planner.forget_sqlite_statistics()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("state", planner.SQLITE_STATES)
def test_sqlite_seeks_the_reference_index_once_a_day_whatever_the_statistics(
    state, forget_statistics
):
    acme, invoice = _data()
    search, hit = _plans(state, acme, invoice)
    day_seek = (
        "USING INDEX event_day_reference_client_idx (occurred_on=? AND reference>? AND reference<?)"
    )
    events = [step for step in search if "operations_event" in step]
    assert len(events) == 32 and all(day_seek in step for step in events), search  # a month
    ranges = [step for step in search if "invoicing_billedrange" in step]
    by_kind_and_time = (
        "SEARCH main.invoicing_billedrange USING INDEX billed_range_client_idx "
        "(client_id=? AND kind=? AND occurred_from<?)"
    )
    if state in ("never analyzed", "benchmark"):
        assert ranges == [by_kind_and_time], search
    else:  # statistics of this test's two ranges: any seek by client will do
        seeks = [step for step in ranges if not step.startswith("BLOOM FILTER")]
        assert len(seeks) == 1 and seeks[0].startswith("SEARCH") and "client_id=?" in seeks[0]
        # SQLite filters by a Bloom filter of the client's ranges when it expects more
        # events than there are ranges in the table (here 2): it reads the client's
        # ranges once, which is cheap. Never one of the events.
    assert not any("BLOOM FILTER ON main.operations_event" in step for step in search), search
    assert not any("AUTOMATIC" in step for step in search), search
    assert hit[0] == f"SEARCH main.operations_event {day_seek}", hit


@pytest.mark.postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize("state", planner.POSTGRES_STATES)
def test_postgresql_seeks_the_reference_index_once_a_day_under_row_security(state):
    acme, invoice = _data()
    search, hit = _plans(state, acme, invoice)
    text = "\n".join(search)
    assert "->  Function Scan on unnest d" in text, text
    assert planner.reads_events_only_through(search, "event_day_reference_client_idx"), text
    assert "Index Cond: ((occurred_on = d.day) AND ((reference)::text >= " in text, text
    # The row security's condition on the client, checked in the index's entries.
    assert "(client_id = (NULLIF(current_setting('tally.client_id'" in text, text
    assert "Hash Join" not in text and "Merge Join" not in text, text
    text = "\n".join(hit)
    assert planner.reads_events_only_through(hit, "event_day_reference_client_idx"), text
    assert "event_block_idx" not in text, text

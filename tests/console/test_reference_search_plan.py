"""The console's search by event reference seeks the reference index (day, reference,
client) once per day, for every client at once and within one client, in every state of
the planner's statistics (tests/planner.py). Within one client, the client is applied
after the seek: PostgreSQL, given it beside the days, read the client's events through
the block index (which leads with the client) and filtered their references — for the
benchmark's largest client, 5.4M entries (bench/RESULTS.md)."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tally.audit.actors import SystemActor
from tally.console.queries.invoices import InvoiceFilters, invoice_page
from tally.operations.services import ingest_events
from tests import planner
from tests.factories import event_rows, issued_invoice, make_client

TODAY = date(2026, 12, 20)
MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def _march(client, per_day: int) -> int:
    """The client's picks on each of March's first 28 days, billed by one issued invoice."""
    for day in range(1, 29):
        ingest_events(
            actor=SystemActor.TESTS,
            client=client,
            rows=event_rows("pick", per_day, day=date(2026, 3, day), prefix=f"{client.code}-{day}"),
        )
    return issued_invoice(client, picks=0, period=MARCH, issue_date=date(2026, 4, 1)).pk


def _search(term: str, client_id: int | None) -> tuple[set[int], list[str]]:
    """The invoices the console's list finds, and the search's statements: by reference,
    and for every client first the span of days."""
    with CaptureQueriesContext(connection) as captured:
        page = invoice_page(TODAY, InvoiceFilters(search=term, client_id=client_id))
    statements = [
        q["sql"]
        for q in captured.captured_queries
        if "reference >=" in q["sql"] or '("operations_event"."occurred_on")' in q["sql"]
    ]
    return {r.id for r in page.rows}, statements


def _data():
    """A big client and a small one, a month of picks each, and their invoices."""
    big, small = make_client("big"), make_client("small")
    return big, small, _march(big, 60), _march(small, 6)


def _check(state: str, big, small, big_invoice: int, small_invoice: int) -> list[list[str]]:
    assert not planner.has_statistics()
    assert _search("REF-big", None)[0] == {big_invoice}  # optimize's cue
    planner.set_statistics(state)
    everyone, every_day = _search("REF-", None)
    assert everyone == {big_invoice, small_invoice}
    within, within_days = _search("REF-", small.pk)
    assert within == {small_invoice}
    mine, mine_days = _search("REF-big-3-", big.pk)
    assert mine == {big_invoice}
    assert _search("REF-small", big.pk)[0] == set()
    # Every client: the first day, the last, then one statement; one client: the span of
    # its events (not counted here), then one statement.
    assert len(every_day) == 3 and len(within_days) == len(mine_days) == 1
    for end in every_day[:2]:
        ends = "\n".join(planner.plan(end))
        seek = "SEARCH operations_event USING " if connection.vendor == "sqlite" else "Limit"
        assert seek in ends and "event_day_reference_client_idx" in ends, ends
    return [planner.plan(every_day[2]), planner.plan(within_days[0]), planner.plan(mine_days[0])]


@pytest.fixture
def forget_statistics(tx_db):
    yield
    planner.forget_sqlite_statistics()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("state", planner.SQLITE_STATES)
def test_sqlite_seeks_the_reference_index_once_a_day_whatever_the_statistics(
    state, forget_statistics
):
    big, small, big_invoice, small_invoice = _data()
    plans = _check(state, big, small, big_invoice, small_invoice)
    day_seek = (
        "SEARCH e USING INDEX event_day_reference_client_idx "
        "(occurred_on=? AND reference>? AND reference<?)"
    )
    # One statement whatever the days (every client: the events' span, 28; one client:
    # its events' span, 28 too), the days a recursive CTE outermost.
    for plan in plans:
        events = [step for step in plan if step.startswith(("SEARCH e ", "SCAN e"))]
        assert events == [day_seek], plan
        assert plan.index("SCAN days") < plan.index(day_seek), plan
        ranges = [step for step in plan if step.startswith(("SEARCH r ", "SCAN r"))]
        if state in ("never analyzed", "benchmark"):
            assert ranges == [
                "SEARCH r USING INDEX billed_range_client_idx "
                "(client_id=? AND kind=? AND occurred_from<?)"
            ], plan
        else:  # statistics of this test's two ranges: any seek by client will do
            assert len(ranges) == 1 and ranges[0].startswith("SEARCH r USING INDEX"), plan
            assert "client_id=?" in ranges[0], plan
        assert not any("BLOOM" in step or "AUTOMATIC" in step for step in plan), plan


@pytest.mark.postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize("state", planner.POSTGRES_STATES)
def test_postgresql_seeks_the_reference_index_once_a_day_whatever_the_statistics(state):
    big, small, big_invoice, small_invoice = _data()
    for n, plan in enumerate(_check(state, big, small, big_invoice, small_invoice)):
        text = "\n".join(plan)
        # A loop over the days, each seeking the reference index by its day and the term;
        # the client, when there is one, filters what the seek found.
        assert "->  Function Scan on unnest d" in text, text
        assert planner.reads_events_only_through(plan, "event_day_reference_client_idx"), text
        assert "Index Cond: ((occurred_on = d.day) AND ((reference)::text >= " in text, text
        assert ("Filter: (e.client_id = " in text) == (n > 0), text
        # The ranges of each event found, looked up in the same loop.
        assert "Hash Join" not in text and "Merge Join" not in text, text

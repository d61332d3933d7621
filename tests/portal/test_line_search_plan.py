"""A search in a line's events by reference seeks the reference index by day on SQLite in
every state the planner's statistics reach (as the invoice search's plan test): never
analyzed, analyzed, after `PRAGMA optimize`, and with the benchmark's statistics. The
block index would give the line's events in time order for free, and a planner that
took it would walk a million-event line testing each reference."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tally.audit.actors import SystemActor
from tally.invoicing.queries import billed_events
from tally.operations.services import ingest_events
from tally.portal import queries
from tally.portal.scope import client_scope
from tests.factories import event_rows, issued_invoice, make_client
from tests.portal.test_reference_search_plan import (
    _has_statistics,
    _set_statistics,
    _unscoped,
    forget_statistics,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.sqlite_only


@pytest.mark.parametrize("state", ["never analyzed", "analyzed", "optimized", "benchmark"])
def test_a_search_in_a_lines_events_seeks_the_reference_index_by_day(state, forget_statistics):  # noqa: F811
    acme = make_client("planner")
    for day in range(1, 29):
        ingest_events(
            actor=SystemActor.TESTS,
            client=acme,
            rows=event_rows("pick", 50, day=date(2026, 3, day)),
        )
    line = issued_invoice(
        acme, picks=0, period=(date(2026, 3, 1), date(2026, 3, 31)), issue_date=date(2026, 4, 1)
    ).lines.get(kind="pick")
    last = billed_events(line).order_by("-occurred_at", "-id").values_list("id", "reference")[0]
    assert not _has_statistics()
    assert queries.line_events(acme.pk, line.pk, find=last[1]).highlight_id == last[0]
    _set_statistics(state)
    assert _has_statistics() == (state != "never analyzed"), state
    with CaptureQueriesContext(connection) as captured:
        assert queries.line_events(acme.pk, line.pk, find=last[1]).highlight_id == last[0]
    seeks = [q["sql"] for q in captured.captured_queries if "occurred_on" in q["sql"]]
    plans = []
    # As the search ran: through the client scope's views (EXPLAIN reads what it refuses).
    with client_scope(acme.pk), _unscoped(), connection.cursor() as cursor:
        for sql in seeks:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plans.append([row[3] for row in cursor.fetchall()])
    assert len(seeks) == 28  # a day at a time, up to the last one's
    for plan in plans:
        events = [step for step in plan if "operations_event" in step]
        assert len(events) == 1, plan
        # Whichever the index's order, (client, day, reference) or (day, reference, client).
        assert events[0].startswith("SEARCH") and "occurred_on=? AND reference>?" in events[0], plan
        assert "event_block_idx" not in events[0], plan

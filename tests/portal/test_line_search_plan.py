"""A search in a line's events by reference seeks the reference index by day in every
state the planner's statistics reach (tests/planner.py, as the invoice search's plan test):
SQLite never analyzed, analyzed, after `PRAGMA optimize`, and with the benchmark's
statistics; PostgreSQL without and with ANALYZE, under the portal's row security. The
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
from tests import planner
from tests.factories import event_rows, issued_invoice, make_client


def _plans(state: str) -> list[list[str]]:
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
    assert not planner.has_statistics()
    assert queries.line_events(acme.pk, line.pk, find=last[1]).highlight_id == last[0]
    planner.set_statistics(state)
    with CaptureQueriesContext(connection) as captured:
        assert queries.line_events(acme.pk, line.pk, find=last[1]).highlight_id == last[0]
    seeks = [q["sql"] for q in captured.captured_queries if "occurred_on" in q["sql"]]
    assert len(seeks) == 28  # a day at a time, up to the last one's
    # As the search ran: through the client scope's views, or as its role.
    with client_scope(acme.pk):
        return [planner.plan(sql) for sql in seeks]


@pytest.fixture
def forget_statistics(tx_db):
    yield
    planner.forget_sqlite_statistics()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("state", planner.SQLITE_STATES)
def test_a_search_in_a_lines_events_seeks_the_reference_index_by_day(state, forget_statistics):
    for plan in _plans(state):
        events = [step for step in plan if "operations_event" in step]
        assert len(events) == 1, plan
        assert events[0].startswith("SEARCH") and "occurred_on=? AND reference>?" in events[0], plan
        assert "event_day_reference_client_idx" in events[0], plan


@pytest.mark.postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize("state", planner.POSTGRES_STATES)
def test_postgresql_searches_a_lines_events_through_the_reference_index(state):
    for plan in _plans(state):
        text = "\n".join(plan)
        assert planner.reads_events_only_through(plan, "event_day_reference_client_idx"), text
        assert "event_block_idx" not in text, text

"""The reference search seeks the day index on SQLite as production runs it: with no
statistics (nothing runs ANALYZE), where SQLite had preferred to read every event of the
client through the block index (215 ms at a million events, against 4 ms before)."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tally.audit.actors import SystemActor
from tally.operations.services import ingest_events
from tally.portal.queries.search import _invoices_billing_reference
from tally.portal.scope import _sqlite_authorizer, client_scope
from tests.factories import event_rows, issued_invoice, make_client

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite_only]


def test_the_reference_search_seeks_the_day_index_on_a_database_never_analyzed():
    acme = make_client("planner")
    for day in range(1, 29):
        ingest_events(
            actor=SystemActor.TESTS,
            client=acme,
            rows=event_rows("pick", 50, day=date(2026, 3, day)),
        )
    invoice = issued_invoice(
        acme, picks=0, period=(date(2026, 3, 1), date(2026, 3, 31)), issue_date=date(2026, 4, 1)
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert cursor.fetchone()[0] == 0
    with client_scope(acme.pk):
        with CaptureQueriesContext(connection) as captured:
            assert _invoices_billing_reference(acme.pk, "REF-pick") == [invoice.pk]
        search = next(q["sql"] for q in captured.captured_queries if "occurred_on" in q["sql"])
        connection.connection.set_authorizer(None)  # EXPLAIN reads tables the scope refuses
        try:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN QUERY PLAN " + search)
                plan = [row[3] for row in cursor.fetchall()]
        finally:
            connection.connection.set_authorizer(_sqlite_authorizer)
    assert any("event_day_reference_idx" in step for step in plan), plan
    assert not any("event_block_idx" in step for step in plan), plan

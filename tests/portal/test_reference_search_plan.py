"""The reference search seeks the day index once per day on SQLite in every state the
planner's statistics reach in production: never analyzed (nothing runs ANALYZE), analyzed,
after `PRAGMA optimize`, and with the statistics of the benchmark's 2.5M-event database.
Joined to a table of days, SQLite with statistics first built a Bloom filter over every
event of the client (1 s at 5.8M events); with an IN list it read them all through the
block index on this test's data (and took 10 s on the benchmark's joined the other way)."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tally.audit.actors import SystemActor
from tally.operations.services import ingest_events
from tally.portal.queries.search import _invoices_billing_reference
from tally.portal.scope import _sqlite_authorizer, client_scope
from tests.factories import event_rows, issued_invoice, make_client

pytestmark = pytest.mark.sqlite_only

# sqlite_stat1 of `bench/portal_dataset.py --scale 0.2 --clients 40` after its ANALYZE.
BENCHMARK_STATISTICS = [
    ("invoicing_billedrange", "billed_range_client_idx", "34308 858 234 2"),
    ("invoicing_billedrange", "invoicing_billedrange_client_id_047173f6", "34308 858"),
    ("invoicing_billedrange", "invoicing_billedrange_invoice_id_c3dd2b33", "34308 4"),
    ("invoicing_billedrange", "invoicing_billedrange_line_id_7986da7b", "34308 1"),
    ("operations_event", "event_block_idx", "2481265 62032 16880 2 1 1"),
    ("operations_event", "event_day_reference_idx", "2481265 62032 41 3"),
    ("operations_event", "sqlite_autoindex_operations_event_1", "2481265 62032 62032 1"),
]


def _has_statistics() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("SELECT count(*) FROM sqlite_stat1")
        return bool(cursor.fetchone()[0])


def _set_statistics(state: str) -> None:
    with connection.cursor() as cursor:
        if state == "analyzed":
            cursor.execute("ANALYZE")
        elif state == "optimized":
            cursor.execute("PRAGMA analysis_limit = 400")
            cursor.execute("PRAGMA optimize")
        elif state == "benchmark":
            cursor.execute("ANALYZE")
            cursor.execute(
                "DELETE FROM sqlite_stat1 WHERE tbl IN ('operations_event', 'invoicing_billedrange')"
            )
            cursor.executemany("INSERT INTO sqlite_stat1 VALUES (%s, %s, %s)", BENCHMARK_STATISTICS)
            cursor.execute("ANALYZE sqlite_schema")  # reload the statistics just written


@contextmanager
def _unscoped() -> Iterator[None]:
    connection.connection.set_authorizer(None)
    try:
        yield
    finally:
        connection.connection.set_authorizer(_sqlite_authorizer)


@pytest.fixture
def forget_statistics(tx_db):
    """Statistics are written outside any test transaction: dropped at the end."""
    yield
    with connection.cursor() as cursor:
        for table in ("sqlite_stat1", "sqlite_stat4"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")  # noqa: S608 (constants)
    connection.close()  # the next connection reads a schema without them


@pytest.mark.parametrize("state", ["never analyzed", "analyzed", "optimized", "benchmark"])
def test_the_reference_search_seeks_the_day_index_whatever_the_statistics(state, forget_statistics):
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
    assert not _has_statistics()
    with client_scope(acme.pk):
        assert _invoices_billing_reference(acme.pk, "REF-pick") == [invoice.pk]  # optimize's cue
        with _unscoped():  # ANALYZE and EXPLAIN read tables the scope refuses
            _set_statistics(state)
            assert _has_statistics() == (state != "never analyzed"), state
        with CaptureQueriesContext(connection) as captured:
            assert _invoices_billing_reference(acme.pk, "REF-pick") == [invoice.pk]
        search = next(q["sql"] for q in captured.captured_queries if "occurred_on" in q["sql"])
        with _unscoped(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + search)
            plan = [row[3] for row in cursor.fetchall()]
    events = [step for step in plan if "operations_event" in step]
    ranges = [step for step in plan if "invoicing_billedrange" in step]
    day_seek = "USING INDEX event_day_reference_idx (client_id=? AND occurred_on=? AND reference>?"
    assert len(events) == 32 and all(day_seek in step for step in events), plan  # a month
    by_kind_and_time = (
        "SEARCH main.invoicing_billedrange USING INDEX billed_range_client_idx "
        "(client_id=? AND kind=? AND occurred_from<?)"
    )
    if state in ("never analyzed", "benchmark"):
        assert ranges == [by_kind_and_time], plan
    else:  # statistics of this test's two ranges: any seek by client will do
        assert len(ranges) == 1 and ranges[0].startswith("SEARCH") and "client_id=?" in ranges[0]
    assert not any("BLOOM" in step for step in plan), plan

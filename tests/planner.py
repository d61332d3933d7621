"""The planner's statistics in the states a plan test checks, and the plans themselves.

SQLite, as production reaches them: never analysed (nothing in Tally runs ANALYZE),
analysed, after `PRAGMA optimize` (`analysis_limit = 400`), and with the statistics of the
benchmark's database. PostgreSQL: never analysed (a new database, or autovacuum off) and
analysed; its statistics cannot be written by hand without a superuser.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from tally.portal.scope import PORTAL_ROLE, _sqlite_authorizer, current_client_id

SQLITE_STATES = ("never analyzed", "analyzed", "optimized", "benchmark")
POSTGRES_STATES = ("never analyzed", "analyzed")

# sqlite_stat1 of `bench/portal_dataset.py --scale 0.2 --clients 40` after its ANALYZE.
BENCHMARK_STATISTICS = [
    ("invoicing_billedrange", "billed_range_client_idx", "34308 858 234 2"),
    ("invoicing_billedrange", "invoicing_billedrange_client_id_047173f6", "34308 858"),
    ("invoicing_billedrange", "invoicing_billedrange_invoice_id_c3dd2b33", "34308 4"),
    ("invoicing_billedrange", "invoicing_billedrange_line_id_7986da7b", "34308 1"),
    ("operations_event", "event_block_idx", "2481265 62032 16880 2 1 1"),
    ("operations_event", "event_day_reference_client_idx", "2481265 1356 3 3"),
    ("operations_event", "sqlite_autoindex_operations_event_1", "2481265 62032 62032 1"),
]


def has_statistics() -> bool:
    """Whether the planner has statistics of the events table."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'operations_event'")
            return bool(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'operations_event'")
        return bool(cursor.fetchone()[0])


def set_statistics(state: str) -> None:
    """Bring the planner's statistics to `state` (the data are in place)."""
    if state == "never analyzed":
        if has_statistics():  # PostgreSQL's autovacuum got to a table this run committed to
            pytest.skip("the events table was analysed earlier in this run")
        return
    with connection.cursor() as cursor:
        if state == "analyzed":
            # PostgreSQL: inside the test's transaction, rolled back with it.
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
        else:
            raise ValueError(state)
    assert has_statistics(), state


@contextmanager
def unscoped() -> Iterator[None]:
    """Inside a client scope, as the tables' owner: ANALYZE reads (SQLite) and analyses
    (PostgreSQL) only as the owner. SQLite's views stay in place, and so do PostgreSQL's
    policies for what is explained afterwards."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('role', 'none', true)")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('role', %s, true)", [PORTAL_ROLE])
        return
    connection.connection.set_authorizer(None)
    try:
        yield
    finally:
        connection.connection.set_authorizer(_sqlite_authorizer)


def forget_sqlite_statistics() -> None:
    """Statistics are written outside any test transaction on SQLite: drop them."""
    with connection.cursor() as cursor:
        for table in ("sqlite_stat1", "sqlite_stat4"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")  # noqa: S608 (constants)
    connection.close()  # the next connection reads a schema without them


def plan(sql: str) -> list[str]:
    """A captured statement's plan: SQLite's EXPLAIN QUERY PLAN steps (through the scope's
    views, if in one), or PostgreSQL's EXPLAIN lines (as the scope's role, if in one)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN " + sql)
            return [row[0] for row in cursor.fetchall()]
        scoped = current_client_id() is not None
        connection.connection.set_authorizer(None)  # EXPLAIN reads what the scope refuses
        try:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            return [row[3] for row in cursor.fetchall()]
        finally:
            if scoped:
                connection.connection.set_authorizer(_sqlite_authorizer)


def reads_events_only_through(plan: list[str], index: str) -> bool:
    """Whether a PostgreSQL plan reads the events table once, through `index`: an index
    scan, or a bitmap heap scan of that index's entries (which the planner picks when it
    expects a few dozen rows a day; both seek the index, neither reads the table whole)."""
    events = [i for i, line in enumerate(plan) if "on operations_event" in line]
    if len(events) != 1:
        return False
    line = plan[events[0]]
    if f"Scan using {index} on operations_event" in line:
        return True
    below = plan[events[0] + 1 : events[0] + 4]
    return "Bitmap Heap Scan on operations_event" in line and any(
        f"Bitmap Index Scan on {index}" in step for step in below
    )

"""Finding invoices by the reference of an event they bill."""

import sqlite3
from datetime import UTC, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Max,
    Min,
)

from tally.invoicing.models import (
    BilledRange,
)
from tally.operations.models import Event

from .common import _tables

_SEARCH_TABLES = _tables(Event, BilledRange)


def _invoices_billing_reference(client_id: int, term: str) -> list[int]:
    """The client's invoices that bill an event whose reference starts with `term`.

    The reference index is by UTC day first (operations.models: a batch's entries then
    share pages), so this seeks it once for each day of the client's billed span, then
    finds the ranges that bill the few events found. It runs once per search, and the
    page's queries filter by its answer.
    """
    span = BilledRange.objects.filter(client_id=client_id).aggregate(
        first=Min("occurred_from"), last=Max("occurred_to")
    )
    if span["first"] is None:
        return []
    first = span["first"].astimezone(UTC).date()
    days = [
        first + timedelta(days=n)
        for n in range((span["last"].astimezone(UTC).date() - first).days + 1)
    ]
    sqlite = connection.vendor == "sqlite"
    # SQLite allows a build-defined number of parameters per statement (32,766 by default:
    # 89 years of days); a longer span takes more than one statement.
    chunk = len(days)
    if sqlite:
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        chunk = limit - 3
    found: set[int] = set()
    billed_by = (
        "JOIN invoicing_billedrange r ON r.client_id = e.client_id AND r.kind = e.kind "
        "AND r.occurred_from <= e.occurred_at AND r.occurred_to > e.occurred_at "
        "AND r.after_id < e.id AND r.upto_id >= e.id "
        "WHERE e.client_id = %s AND e.reference >= %s AND e.reference < %s"
    )
    # Up to the term followed by the last code point (U+FFFF would miss an emoji after it).
    matching: list[Any] = [client_id, term, term + "\U0010ffff"]
    with connection.cursor() as cursor:
        for start in range(0, len(days), chunk):
            some = days[start : start + chunk]
            if sqlite:
                # The days drive the join (a CROSS JOIN keeps its order): without
                # statistics (nothing runs ANALYZE) SQLite would rather read every event of
                # the client through the block index. (INDEXED BY cannot name an index
                # through the portal scope's views.)
                cursor.execute(
                    f"WITH span(day) AS (VALUES {', '.join(['(%s)'] * len(some))}) "  # noqa: S608 (placeholders only)
                    "SELECT DISTINCT r.invoice_id FROM span CROSS JOIN operations_event e "
                    f"{billed_by} AND e.occurred_on = span.day",
                    [*(d.isoformat() for d in some), *matching],
                )
            else:
                cursor.execute(
                    "SELECT DISTINCT r.invoice_id FROM operations_event e "  # noqa: S608 (constants only)
                    f"{billed_by} AND e.occurred_on = ANY(%s::date[])",
                    [*matching, some],
                )
            found.update(invoice_id for (invoice_id,) in cursor.fetchall())
    return sorted(found)

"""The events behind a line, a keyset page at a time."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Exists,
    OuterRef,
)

from tally.errors import NotFound
from tally.invoicing.models import (
    BilledRange,
    Invoice,
    InvoiceLine,
)
from tally.invoicing.naming import format_invoice_number
from tally.invoicing.queries import events_billed_by
from tally.operations.models import Event
from tally.pagination import Cursor, DateTimeKey, IntKey, KeysetPaginator

from ..scope import client_scope
from .common import (
    _LINE_COLUMNS,
    LineRow,
    _tables,
)


@dataclass(frozen=True)
class EventRow:
    id: int
    occurred_at: datetime
    kind: str
    reference: str
    quantity: int
    details: dict[str, Any]


@dataclass(frozen=True)
class EventPage:
    line: LineRow
    invoice_number: str
    rows: list[EventRow]
    next_cursor: str | None
    prev_cursor: str | None
    # The event asked for (by id, or the first whose reference starts with `find`): the
    # page starts at it, and it is highlighted. None when none was asked for or found.
    highlight_id: int | None = None
    find: str = ""


# In time order. `_billed_by` bounds occurred_at by the cursor itself (seek=False).
EVENT_PAGES = KeysetPaginator(
    "portal.line_events", [DateTimeKey("occurred_at", seek=False), IntKey("id")]
)
_EVENT_COLUMNS = ("id", "occurred_at", "kind", "reference", "quantity", "details")


def line_events(
    client_id: int,
    line_id: int,
    cursor: str | None = None,
    limit: int = 50,
    *,
    at_event: int | None = None,
    find: str = "",
) -> EventPage:
    """A line's events in time order, keyset-paginated on (occurred_at, id).

    `at_event` (an event's id) or `find` (the start of a reference): the page starts at
    that event of the line (the first whose reference starts so, `_first_with_reference`),
    which is highlighted; its position is the keyset's, so the pages before and after
    page as usual."""
    position = EVENT_PAGES.decode(cursor)
    find = find.strip()
    with client_scope(client_id, _tables(InvoiceLine, Invoice, BilledRange, Event)):
        # The line and its ranges in one read: a row per range (one, with no range, for an
        # adjustment).
        found = list(
            InvoiceLine.objects.filter(client_id=client_id, pk=line_id)
            .filter(Exists(Invoice.objects.issued().filter(pk=OuterRef("invoice_id"))))
            .values(*_LINE_COLUMNS, "invoice__number", *_RANGE_COLUMNS)
        )
        if not found:
            raise NotFound("line")
        line = {k: found[0][k] for k in (*_LINE_COLUMNS, "invoice__number")}
        ranges = [
            tuple(row[c] for c in _RANGE_COLUMNS)
            for row in found
            if row["ranges__occurred_from"] is not None
        ]
        highlight, hit = None, None
        every = events_billed_by(client_id, line["kind"], ranges, None, False)
        if at_event is None and find:
            at_event = _first_with_reference(client_id, line["kind"], ranges, find)
        if at_event is not None:
            hit = every.filter(id=at_event).values("id", "occurred_at").first()
            if hit is not None:
                highlight = hit["id"]
                # Just before the event in the keyset's order (ids are integers): the page
                # starts with it.
                position = Cursor((hit["occurred_at"], hit["id"] - 1), backwards=False)
        at = position.values[0] if position else None
        qs = events_billed_by(
            client_id, line["kind"], ranges, at, bool(position and position.backwards)
        )
        page = EVENT_PAGES.paginate(qs, position, limit, _EVENT_COLUMNS)
        prev_cursor = page.prev
        if (
            hit is not None
            and not every.filter(
                EVENT_PAGES.condition(Cursor((hit["occurred_at"], hit["id"]), backwards=True))
            ).exists()
        ):
            prev_cursor = None  # the line's first event: nothing lies before it
    rows = [EventRow(**v) for v in page.results]
    line_row = LineRow(**{k: line[k] for k in _LINE_COLUMNS})
    return EventPage(
        line_row,
        format_invoice_number(line["invoice__number"] or 0),
        rows,
        page.next,
        prev_cursor,
        highlight,
        find,
    )


# The candidates come from the reference index alone, by (UTC day, reference, client),
# and are materialized before the line's kind and ranges filter them, so that no
# planner, with or without statistics, walks the line's events through the block index
# (which leads with (client, kind, occurred_at) and would give the order for free)
# testing each reference.
_FIRST_WITH_REFERENCE = (
    "WITH found AS MATERIALIZED (SELECT id, kind, occurred_at FROM operations_event "
    "WHERE client_id = %s AND occurred_on = %s AND reference >= %s AND reference < %s) "
    "SELECT id FROM found WHERE kind = %s AND ({billed}) ORDER BY occurred_at, id LIMIT 1"
)


def _first_with_reference(
    client_id: int, kind: str, ranges: list[tuple[Any, ...]], find: str
) -> int | None:
    """The id of the line's first event (in time) whose reference starts with `find`.

    One seek of the events' reference index per UTC day of the line's ranges, in time
    order, until a day has one the ranges bill: a million-event week costs at most eight
    seeks, rather than a walk through its events. A prefix, as the page promises ("a
    reference starting with …"): what people paste is a whole order or tracking number,
    and a prefix of one still finds it; a substring could use no index."""
    if not ranges:
        return None
    days: set[date] = set()
    for start, end, _after, _upto in ranges:
        first = start.astimezone(UTC).date()
        last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    sqlite = connection.vendor == "sqlite"
    adapt = connection.ops.adapt_datetimefield_value if sqlite else (lambda value: value)
    billed = " OR ".join(
        ["(occurred_at >= %s AND occurred_at < %s AND id > %s AND id <= %s)"] * len(ranges)
    )
    bounds = [
        v for start, end, after, upto in ranges for v in (adapt(start), adapt(end), after, upto)
    ]
    # Up to the term followed by the last code point (as the invoice search).
    upto_term = find + "\U0010ffff"
    with connection.cursor() as cursor:
        for day in sorted(days):
            cursor.execute(
                _FIRST_WITH_REFERENCE.format(billed=billed),
                [client_id, day.isoformat() if sqlite else day, find, upto_term, kind, *bounds],
            )
            found = cursor.fetchone()
            if found is not None:
                return int(found[0])
    return None


_RANGE_COLUMNS = (
    "ranges__occurred_from",
    "ranges__occurred_to",
    "ranges__after_id",
    "ranges__upto_id",
)


def all_line_events(client_id: int, line_id: int, batch: int = 5000) -> Iterator[EventRow]:
    """Every event of a line (for the streamed CSV), a keyset page at a time."""
    cursor = None
    while True:
        page = line_events(client_id, line_id, cursor, limit=batch)
        yield from page.rows
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def line_detail_keys(client_id: int, line_id: int) -> list[str]:
    """The keys of the details of a line's events, every one that occurs, sorted: the
    columns a spreadsheet gets for them. One set-based read of the line's events (the
    database takes each object's keys apart), so the CSV can stream after it."""
    with client_scope(client_id, _tables(InvoiceLine, Invoice, BilledRange, Event)):
        found = list(
            InvoiceLine.objects.filter(client_id=client_id, pk=line_id)
            .filter(Exists(Invoice.objects.issued().filter(pk=OuterRef("invoice_id"))))
            .values("kind", *_RANGE_COLUMNS)
        )
        if not found:
            raise NotFound("line")
        ranges = [
            tuple(row[c] for c in _RANGE_COLUMNS)
            for row in found
            if row["ranges__occurred_from"] is not None
        ]
        if not ranges:
            return []
        events = events_billed_by(client_id, found[0]["kind"], ranges, None, False)
        sql, params = events.values("details").query.sql_with_params()
        if connection.vendor == "postgresql":
            keys_sql = (
                f"SELECT DISTINCT jsonb_object_keys(e.details) FROM ({sql}) e "  # noqa: S608 (the ORM's SQL)
                "WHERE jsonb_typeof(e.details) = 'object'"
            )
        else:
            keys_sql = (
                f"SELECT DISTINCT j.key FROM ({sql}) e, json_each(e.details) j "  # noqa: S608 (the ORM's SQL)
                "WHERE json_type(e.details) = 'object'"
            )
        with connection.cursor() as cursor:
            cursor.execute(keys_sql, params)
            return sorted(str(key) for (key,) in cursor.fetchall())

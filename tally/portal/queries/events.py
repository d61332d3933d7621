"""The events behind a line, a keyset page at a time."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import (
    Exists,
    OuterRef,
    Q,
    QuerySet,
)

from tally.errors import NotFound
from tally.invoicing.models import (
    BilledRange,
    Invoice,
    InvoiceLine,
    format_invoice_number,
)
from tally.operations.models import Event
from tally.pagination import DateTimeKey, IntKey, KeysetPaginator

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


# In time order. `_billed_by` bounds occurred_at by the cursor itself (seek=False).
EVENT_PAGES = KeysetPaginator(
    "portal.line_events", [DateTimeKey("occurred_at", seek=False), IntKey("id")]
)
_EVENT_COLUMNS = ("id", "occurred_at", "kind", "reference", "quantity", "details")


def line_events(
    client_id: int, line_id: int, cursor: str | None = None, limit: int = 50
) -> EventPage:
    """A line's events in time order, keyset-paginated on (occurred_at, id)."""
    position = EVENT_PAGES.decode(cursor)
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
        at = position.values[0] if position else None
        qs = _billed_by(client_id, line["kind"], ranges, at, bool(position and position.backwards))
        page = EVENT_PAGES.paginate(qs, position, limit, _EVENT_COLUMNS)
    rows = [EventRow(**v) for v in page.results]
    line_row = LineRow(**{k: line[k] for k in _LINE_COLUMNS})
    return EventPage(
        line_row,
        format_invoice_number(line["invoice__number"] or 0),
        rows,
        page.next,
        page.prev,
    )


_RANGE_COLUMNS = (
    "ranges__occurred_from",
    "ranges__occurred_to",
    "ranges__after_id",
    "ranges__upto_id",
)


def _billed_by(
    client_id: int,
    kind: str,
    ranges: list[tuple[Any, ...]],
    cursor_at: datetime | None,
    backwards: bool,
) -> QuerySet[Event]:
    """The events a line bills, through its ranges, from a cursor on.

    The query bounds occurred_at once on each side: by the cursor when it lies inside the
    line's span, else by the span of its ranges. The database then seeks the
    (client, kind, occurred_at, id) index straight to the cursor — SQLite, given two lower
    bounds on a column, seeks by one of them and may walk the rest — so page 20,000 of a
    million-event line costs what page 1 costs."""
    if not ranges:
        return Event.objects.none()
    start, end = min(r[0] for r in ranges), max(r[1] for r in ranges)
    bounds = Q(occurred_at__gte=start) if backwards or not cursor_at or cursor_at < start else Q()
    bounds &= Q(occurred_at__lt=end) if not backwards or not cursor_at or cursor_at >= end else Q()
    if cursor_at and not backwards and cursor_at >= start:
        bounds &= Q(occurred_at__gte=cursor_at)
    if cursor_at and backwards and cursor_at < end:
        bounds &= Q(occurred_at__lte=cursor_at)
    if len(ranges) == 1:
        within = Q(id__gt=ranges[0][2], id__lte=ranges[0][3])
    else:
        within = reduce(
            or_,
            (
                Q(occurred_at__gte=first, occurred_at__lt=last, id__gt=after, id__lte=upto)
                for first, last, after, upto in ranges
            ),
        )
    return Event.objects.filter(bounds, within, client_id=client_id, kind=kind)


def all_line_events(client_id: int, line_id: int, batch: int = 5000) -> Iterator[EventRow]:
    """Every event of a line (for the streamed CSV), a keyset page at a time."""
    cursor = None
    while True:
        page = line_events(client_id, line_id, cursor, limit=batch)
        yield from page.rows
        if not page.next_cursor:
            return
        cursor = page.next_cursor

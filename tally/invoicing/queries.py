"""Reads of the invoicing side: what a line bills, what a credit note credits."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection
from django.db.models import Max, Min, Q, QuerySet

from tally.operations.models import Event, EventKind

from .models import BilledRange, CreditNoteLine, InvoiceLine, InvoiceStatus


def billed_events(line: InvoiceLine) -> QuerySet[Event]:
    """The events a line bills, through its ranges (none for an adjustment)."""
    ranges = list(line.ranges.all())
    if not ranges:
        return Event.objects.none()
    return Event.objects.filter(reduce(or_, (r.events_condition() for r in ranges)))


def live_ranges(client_id: int) -> QuerySet[BilledRange]:
    """The client's ranges that count as billed: those of invoices that are not void."""
    return BilledRange.objects.filter(client_id=client_id).exclude(
        invoice__status=InvoiceStatus.VOID
    )


def events_billed_by(
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


@dataclass(frozen=True)
class CreditedLine:
    """What a credit note credits on one line of its invoice."""

    description: str
    amount_minor: int


def credited_lines(client_id: int, note_ids: list[int]) -> dict[int, list[CreditedLine]]:
    """The lines each credit note credits, in the invoice's order (none for a credit by
    amount). The portal calls it inside its client scope, the console for any client."""
    credited: dict[int, list[CreditedLine]] = defaultdict(list)
    if not note_ids:
        return credited
    for note_id, description, amount in (
        CreditNoteLine.objects.filter(client_id=client_id, credit_note_id__in=note_ids)
        .order_by("line__position", "line_id")
        .values_list("credit_note_id", "line__description", "amount_minor")
    ):
        credited[note_id].append(CreditedLine(description, amount))
    return credited


# -- the invoices that bill an event by its reference -------------------------------------
# The reference index is (occurred_on, reference, client) (operations.models): a search
# seeks it once per UTC day, for every client at once or for one, then finds the ranges
# that bill the few events found, all in one statement. The portal runs it in its client
# scope; the console for every client or one.

# An event `e` lies in a range `r`: its client, kind, span of time and span of ids.
_BILLED_BY = (
    "r.client_id = e.client_id AND r.kind = e.kind "
    "AND r.occurred_from <= e.occurred_at AND r.occurred_to > e.occurred_at "
    "AND r.after_id < e.id AND r.upto_id >= e.id"
)
# SQLite: the days come from a recursive CTE, which the CROSS JOIN keeps outermost, so
# each day is one seek of the reference index by its day and the term: the only index
# with an equality on its first column and a range on its second. The CTE's LIMIT, the
# number of days as a literal, is the planner's estimate of its rows: without it SQLite
# guessed a million days and, with statistics of a smaller table, built a Bloom filter
# over every event first (1 s at 5.8M events), as it did joined to a table of days. Each
# invoice's first match (in time, then id) is the row of its group's MIN: SQLite takes
# the bare columns from that row. (INDEXED BY cannot name an index through the portal
# scope's views.)
_SQLITE_SEARCH = (
    "WITH RECURSIVE days(day) AS (SELECT %s UNION ALL "  # noqa: S608 (constants)
    "SELECT date(day, '+1 day') FROM days WHERE day < %s LIMIT {days:d}) "
    "SELECT r.invoice_id, r.line_id, e.id, e.reference, r.client_id, "
    "MIN(e.occurred_at || printf(' %%020d', e.id)) "
    "FROM days CROSS JOIN operations_event e CROSS JOIN invoicing_billedrange r "
    "WHERE e.occurred_on = days.day AND e.reference >= %s AND e.reference < %s "
    f"AND {_BILLED_BY} GROUP BY r.invoice_id"
)
# PostgreSQL: every day in one statement, each day's seek a LATERAL subquery that OFFSET 0
# keeps from being merged into the join (nor can a condition outside be pushed into it), so
# the only plan is a loop over the days with an index scan inside: no estimate can turn it
# into a scan of a client's events through the block index (the client's condition sits
# outside, after the seek; the portal's row security adds it inside too, where the day and
# the reference still make the reference index the cheaper one) nor into a hash join over
# every range. The ranges of each event found are looked up the same way, through their
# (client, kind, occurred_from) index.
_POSTGRES_SEARCH = (
    "SELECT DISTINCT ON (r.invoice_id) r.invoice_id, r.line_id, e.id, e.reference "  # noqa: S608 (constants)
    "FROM unnest(%s::date[]) AS d(day) "
    "CROSS JOIN LATERAL (SELECT id, kind, occurred_at, client_id, reference "
    "FROM operations_event WHERE occurred_on = d.day AND reference >= %s AND reference < %s "
    "OFFSET 0) e "
    "CROSS JOIN LATERAL (SELECT r.invoice_id, r.line_id FROM invoicing_billedrange r "
    f"WHERE {_BILLED_BY} OFFSET 0) r"
)
# One client's first and last event of each kind: two seeks of the block index a kind.
# ORDER BY and LIMIT, not MIN and MAX: under the portal's row security PostgreSQL reads
# every entry of the client and kind for a MIN.
_CLIENT_SPAN = ", ".join(
    "(SELECT occurred_at FROM operations_event WHERE client_id = %s AND kind = %s "  # noqa: S608
    f"ORDER BY occurred_at {order} LIMIT 1)"
    for _kind in EventKind.values
    for order in ("ASC", "DESC")
)


def _utc_day(value: Any) -> date:
    """A timestamp read by a raw statement as a UTC day: SQLite's UTC text, PostgreSQL's
    datetime."""
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value.astimezone(UTC).date()


def reference_search_span(client_id: int | None) -> tuple[date, date] | None:
    """The first and last UTC days a search by reference seeks: those of the client's
    events (every event it has billed lies between them), or, for every client, the
    reference index's two ends (two statements: asked for both ends in one, SQLite reads
    the whole index). Seeks of an index's ends either way, never a read of a client's
    ranges or events."""
    if client_id is not None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {_CLIENT_SPAN}",  # noqa: S608 (constants)
                [p for kind in EventKind.values for _end in (1, 2) for p in (client_id, kind)],
            )
            ends = [_utc_day(value) for value in cursor.fetchone() if value is not None]
        return (min(ends), max(ends)) if ends else None
    first = Event.objects.aggregate(day=Min("occurred_on"))["day"]
    if first is None:
        return None
    return first, Event.objects.aggregate(day=Max("occurred_on"))["day"]


@dataclass(frozen=True)
class ReferenceMatch:
    """An invoice's first event (in time) whose reference starts with a search term, and
    the line whose range bills it."""

    invoice_id: int
    line_id: int
    event_id: int
    reference: str


def reference_matches(term: str, client_id: int | None) -> dict[int, ReferenceMatch]:
    """Each invoice (of any status: the caller filters) with a range that bills an event
    whose reference starts with `term`, one client's or every client's, and its first such
    event: one statement after the span's.

    The client is applied after the days' seek, never beside it: the events are found by
    day and reference alone, which only the reference index answers. (SQLite: the client
    is checked here, in Python; in the statement, SQLite with statistics built a Bloom
    filter of the client's ranges.)"""
    span = reference_search_span(client_id)
    if span is None:
        return {}
    first, last = span
    # Up to the term followed by the last code point (U+FFFF would miss an emoji after it).
    upto = term + "\U0010ffff"
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                _SQLITE_SEARCH.format(days=(last - first).days + 1),
                [first.isoformat(), last.isoformat(), term, upto],
            )
            return {
                invoice_id: ReferenceMatch(invoice_id, line_id, event_id, reference)
                for invoice_id, line_id, event_id, reference, owner, _ in cursor.fetchall()
                if client_id is None or owner == client_id
            }
        sql = _POSTGRES_SEARCH
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        params: list[Any] = [days, term, upto]
        if client_id is not None:
            sql += " WHERE e.client_id = %s"
            params.append(client_id)
        cursor.execute(sql + " ORDER BY r.invoice_id, e.occurred_at, e.id", params)
        return {row[0]: ReferenceMatch(*row) for row in cursor.fetchall()}


def invoices_billing_reference(term: str, client_id: int | None) -> list[int]:
    """The invoices (of any status: the caller filters) with a range that bills an event
    whose reference starts with `term`: one client's, or every client's."""
    return sorted(reference_matches(term, client_id))

"""Reads of the invoicing side: what a line bills, what a credit note credits."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection
from django.db.models import Max, Min, Q, QuerySet

from tally.operations.models import Event

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
# that bill the few events found. The portal runs it in its client scope; the console
# for every client or one.

# An event `e` lies in a range `r`: its client, kind, span of time and span of ids.
_BILLED_BY = (
    "r.client_id = e.client_id AND r.kind = e.kind "
    "AND r.occurred_from <= e.occurred_at AND r.occurred_to > e.occurred_at "
    "AND r.after_id < e.id AND r.upto_id >= e.id"
)
# SQLite: one SELECT per day, 100 to a compound statement (it allows 500, but compiling
# one grows faster than its terms: 1,821 days took 23 ms in chunks of 500, 9 ms in chunks
# of 100). Each SELECT has one table and an equality on the index's first column, so it
# seeks the index whatever the statistics, and the CROSS JOIN keeps their union outermost.
# Joined to a table of days, SQLite with statistics first built a Bloom filter over every
# event of a client (1 s at 5.8M events); with an IN list it could prefer reading them all
# through the block index. (INDEXED BY cannot name an index through the portal scope's
# views.)
_SQLITE_DAYS_PER_STATEMENT = 100
_SQLITE_ONE_DAY = (
    "SELECT id, kind, occurred_at, client_id FROM operations_event "
    "WHERE occurred_on = %s AND reference >= %s AND reference < %s"
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
    "SELECT DISTINCT r.invoice_id FROM unnest(%s::date[]) AS d(day) "  # noqa: S608 (constants)
    "CROSS JOIN LATERAL (SELECT id, kind, occurred_at, client_id FROM operations_event "
    "WHERE occurred_on = d.day AND reference >= %s AND reference < %s OFFSET 0) e "
    "CROSS JOIN LATERAL (SELECT r.invoice_id FROM invoicing_billedrange r "
    f"WHERE {_BILLED_BY} OFFSET 0) r"
)


def reference_search_days(client_id: int | None) -> list[date]:
    """The UTC days a search by reference seeks: those of the client's billed span, or,
    for every client, those from the first event's to the last's: the reference index's
    two ends, one seek each, where the billed span across clients would read every range
    (two statements: asked for both ends in one, SQLite reads the whole index)."""
    if client_id is not None:
        span = BilledRange.objects.filter(client_id=client_id).aggregate(
            first=Min("occurred_from"), last=Max("occurred_to")
        )
        if span["first"] is None:
            return []
        first = span["first"].astimezone(UTC).date()
        last = span["last"].astimezone(UTC).date()
    else:
        start = Event.objects.aggregate(day=Min("occurred_on"))["day"]
        if start is None:
            return []
        first, last = start, Event.objects.aggregate(day=Max("occurred_on"))["day"]
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def invoices_billing_reference(term: str, client_id: int | None) -> list[int]:
    """The invoices (of any status: the caller filters) with a range that bills an event
    whose reference starts with `term`: one client's, or every client's.

    The client is applied after the days' seek, never beside it: the events are found by
    day and reference alone, which only the reference index answers. (SQLite: the client
    is checked here, in Python; in the statement, SQLite with statistics built a Bloom
    filter of the client's ranges for each statement.)"""
    days = reference_search_days(client_id)
    # Up to the term followed by the last code point (U+FFFF would miss an emoji after it).
    upto = term + "\U0010ffff"
    found: set[int] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for start in range(0, len(days), _SQLITE_DAYS_PER_STATEMENT):
                some = days[start : start + _SQLITE_DAYS_PER_STATEMENT]
                cursor.execute(
                    "SELECT DISTINCT r.invoice_id, r.client_id FROM ("  # noqa: S608 (constants only)
                    + " UNION ALL ".join([_SQLITE_ONE_DAY] * len(some))
                    + f") e CROSS JOIN invoicing_billedrange r ON {_BILLED_BY}",
                    [p for d in some for p in (d.isoformat(), term, upto)],
                )
                found.update(
                    invoice_id
                    for invoice_id, owner in cursor.fetchall()
                    if client_id is None or owner == client_id
                )
        elif days:
            sql = _POSTGRES_SEARCH
            params: list[Any] = [days, term, upto]
            if client_id is not None:
                sql += " WHERE e.client_id = %s"
                params.append(client_id)
            cursor.execute(sql, params)
            found.update(invoice_id for (invoice_id,) in cursor.fetchall())
    return sorted(found)

"""Finding invoices by the reference of an event they bill."""

from dataclasses import dataclass
from datetime import UTC, timedelta
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import (
    Exists,
    Max,
    Min,
    OuterRef,
    Q,
)

from tally.invoicing.models import (
    BilledRange,
    Invoice,
    InvoiceLine,
)
from tally.operations.models import Event

from ..scope import client_scope
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
    # SQLite: 100 days to a compound SELECT (it allows 500, but compiling one grows faster
    # than its terms: 1,821 days took 23 ms in chunks of 500, 9 ms in chunks of 100);
    # PostgreSQL takes the days as one array.
    chunk = 100 if sqlite else len(days)
    found: set[int] = set()
    # Up to the term followed by the last code point (U+FFFF would miss an emoji after it).
    upto = term + "\U0010ffff"
    billed_by = (
        "r.client_id = e.client_id AND r.kind = e.kind "
        "AND r.occurred_from <= e.occurred_at AND r.occurred_to > e.occurred_at "
        "AND r.after_id < e.id AND r.upto_id >= e.id"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(days), chunk):
            some = days[start : start + chunk]
            if sqlite:
                # One seek of the day index per day, then the ranges that bill what was
                # found, in every state of the planner's statistics: a SELECT per day has
                # one table and equalities on both of the index's leading columns, and
                # the CROSS JOIN keeps their union outermost. Joined to a table of days,
                # SQLite with statistics first built a Bloom filter over every event of the
                # client (1 s at 5.8M events); with an IN list it could prefer reading
                # them all through the block index. (INDEXED BY cannot name an index
                # through the portal scope's views.)
                one_day = (
                    "SELECT id, kind, occurred_at, client_id, reference FROM operations_event "
                    "WHERE client_id = %s AND occurred_on = %s "
                    "AND reference >= %s AND reference < %s"
                )
                cursor.execute(
                    "SELECT DISTINCT r.invoice_id FROM ("  # noqa: S608 (constants only)
                    + " UNION ALL ".join([one_day] * len(some))
                    + f") e CROSS JOIN invoicing_billedrange r ON {billed_by}",
                    [p for d in some for p in (client_id, d.isoformat(), term, upto)],
                )
            else:
                cursor.execute(
                    "SELECT DISTINCT r.invoice_id FROM operations_event e "  # noqa: S608 (constants only)
                    f"JOIN invoicing_billedrange r ON {billed_by} "
                    "WHERE e.client_id = %s AND e.reference >= %s AND e.reference < %s "
                    "AND e.occurred_on = ANY(%s::date[])",
                    [client_id, term, upto, some],
                )
            found.update(invoice_id for (invoice_id,) in cursor.fetchall())
    return sorted(found)


@dataclass(frozen=True)
class ReferenceHit:
    """The first event of an invoice whose reference starts with a search term, and the
    line that bills it: where a search by reference opens the invoice."""

    line_id: int
    line_description: str
    event_id: int
    reference: str


def reference_hit(client_id: int, invoice_id: int, term: str) -> ReferenceHit | None:
    """The invoice's first event (in time) whose reference starts with `term`, or None.

    A seek of the day index (client, day, reference) per day of the invoice's ranges, in
    order, until one finds an event the ranges bill: a month's invoice costs at most a
    month of seeks, whatever its number of events."""
    term = term.strip()
    if not term:
        return None
    with client_scope(client_id, _SEARCH_TABLES | _tables(InvoiceLine, Invoice)):
        ranges = list(
            BilledRange.objects.filter(client_id=client_id, invoice_id=invoice_id)
            .filter(Exists(Invoice.objects.issued().filter(pk=OuterRef("invoice_id"))))
            .values_list("line_id", "kind", "occurred_from", "occurred_to", "after_id", "upto_id")
        )
        if not ranges:
            return None
        billed = reduce(
            or_,
            (
                Q(
                    kind=kind,
                    occurred_at__gte=start,
                    occurred_at__lt=end,
                    id__gt=after,
                    id__lte=upto,
                )
                for _, kind, start, end, after, upto in ranges
            ),
        )
        first = min(r[2] for r in ranges).astimezone(UTC).date()
        last = max(r[3] for r in ranges).astimezone(UTC).date()
        upto_term = term + "\U0010ffff"
        for n in range((last - first).days + 1):
            found = (
                Event.objects.filter(
                    billed,
                    client_id=client_id,
                    occurred_on=first + timedelta(days=n),
                    reference__gte=term,
                    reference__lt=upto_term,
                )
                .order_by("occurred_at", "id")
                .values("id", "kind", "occurred_at", "reference")
                .first()
            )
            if found is None:
                continue
            line_id = next(
                line
                for line, kind, start, end, after, upto in ranges
                if kind == found["kind"]
                and start <= found["occurred_at"] < end
                and after < found["id"] <= upto
            )
            description = (
                InvoiceLine.objects.filter(client_id=client_id, pk=line_id)
                .values_list("description", flat=True)
                .get()
            )
            return ReferenceHit(line_id, description, found["id"], found["reference"])
    return None

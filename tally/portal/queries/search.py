"""Finding invoices by the reference of an event they bill."""

from dataclasses import dataclass
from datetime import UTC, timedelta

from django.db.models import Exists, OuterRef

from tally.invoicing.models import (
    BilledRange,
    Invoice,
    InvoiceLine,
)
from tally.invoicing.queries import invoices_billing_reference
from tally.operations.models import Event

from ..scope import client_scope
from .common import _tables

_SEARCH_TABLES = _tables(Event, BilledRange)


def _invoices_billing_reference(client_id: int, term: str) -> list[int]:
    """The client's invoices that bill an event whose reference starts with `term`: one
    seek of the reference index per day of the client's billed span, then the ranges that
    bill the few events found (invoicing.queries, the console's search too). It runs once
    per search, inside the page's client scope, and the page's queries filter by its
    answer."""
    return invoices_billing_reference(term, client_id)


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

    A seek of the reference index (day, reference, client) per day of the invoice's
    ranges, in order, until a day has an event the ranges bill: a month's invoice costs at
    most a month of seeks, whatever its number of events. Whether the ranges bill an event
    is checked here, not in the statement: conditions on (kind, occurred_at, id) would
    let the planner read the client's events through the block index instead."""
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
        first = min(r[2] for r in ranges).astimezone(UTC).date()
        last = max(r[3] for r in ranges).astimezone(UTC).date()
        upto_term = term + "\U0010ffff"
        for n in range((last - first).days + 1):
            found = (
                Event.objects.filter(
                    client_id=client_id,
                    occurred_on=first + timedelta(days=n),
                    reference__gte=term,
                    reference__lt=upto_term,
                )
                .order_by("occurred_at", "id")
                .values_list("id", "kind", "occurred_at", "reference")
            )
            for event_id, kind, at, reference in found:
                line_id = next(
                    (
                        line
                        for line, k, start, end, after, upto in ranges
                        if k == kind and start <= at < end and after < event_id <= upto
                    ),
                    None,
                )
                if line_id is None:
                    continue
                description = (
                    InvoiceLine.objects.filter(client_id=client_id, pk=line_id)
                    .values_list("description", flat=True)
                    .get()
                )
                return ReferenceHit(line_id, description, event_id, reference)
    return None

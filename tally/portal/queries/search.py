"""Finding invoices by the reference of an event they bill."""

from dataclasses import dataclass

from tally.invoicing.models import BilledRange, InvoiceLine
from tally.invoicing.queries import ReferenceMatch, reference_matches
from tally.operations.models import Event

from .common import _tables

_SEARCH_TABLES = _tables(Event, BilledRange, InvoiceLine)


def _reference_matches(client_id: int, term: str) -> dict[int, ReferenceMatch]:
    """The client's invoices that bill an event whose reference starts with `term`, each
    with its first such event: one seek of the reference index per day of the client's
    events, joined to the ranges that bill the few events found (invoicing.queries, the
    console's search too). It runs once per search, inside the page's client scope, and
    the page's queries filter by its answer."""
    return reference_matches(term, client_id)


@dataclass(frozen=True)
class ReferenceHit:
    """The first event of an invoice whose reference starts with a search term, and the
    line that bills it: where a search by reference opens the invoice."""

    invoice_id: int
    line_id: int
    line_description: str
    event_id: int
    reference: str


def _reference_hit(client_id: int, match: ReferenceMatch) -> ReferenceHit:
    """The hit of an invoice the search found, in the caller's client scope: its line's
    description is the one read it adds to the search's."""
    description = (
        InvoiceLine.objects.filter(client_id=client_id, pk=match.line_id)
        .values_list("description", flat=True)
        .get()
    )
    return ReferenceHit(
        match.invoice_id, match.line_id, description, match.event_id, match.reference
    )

"""The events behind one line of any invoice, draft or issued, for the operator: the one
query of the draft page's and the invoice page's event lists (`console.line_events`).

The line and its billed ranges come in one read; then one keyset page of events through
the invoicing app's `events_billed_by`, as the portal's drilldown reads them, so a deep
page costs what the first costs.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tally.errors import NotFound
from tally.invoicing.models import InvoiceLine
from tally.invoicing.naming import invoice_name
from tally.invoicing.queries import events_billed_by
from tally.pagination import DateTimeKey, IntKey, KeysetPaginator

EVENTS_LIMIT = 50


@dataclass(frozen=True)
class EventRow:
    id: int
    occurred_at: datetime
    kind: str
    reference: str
    quantity: int
    details: dict[str, Any]


@dataclass(frozen=True)
class EventLine:
    """The line whose events are listed."""

    id: int
    line_type: str
    kind: str
    description: str
    event_count: int


@dataclass(frozen=True)
class LineEvents:
    invoice_id: int
    invoice_number: str  # INV-000123, or "draft #45" before issue (`Invoice.display_number`)
    client_name: str
    line: EventLine
    rows: list[EventRow]
    next_cursor: str | None
    prev_cursor: str | None


# In time order, as the client pages them. `events_billed_by` bounds occurred_at by the
# cursor itself, so the paginator adds no seek condition of its own.
EVENT_PAGES = KeysetPaginator(
    "console.line_events", [DateTimeKey("occurred_at", seek=False), IntKey("id")]
)
_LINE = tuple(f.name for f in EventLine.__dataclass_fields__.values())
_RANGES = ("ranges__occurred_from", "ranges__occurred_to", "ranges__after_id", "ranges__upto_id")
_EVENT = tuple(EventRow.__dataclass_fields__)


def line_events(
    invoice_id: int, line_id: int, cursor: str | None = None, limit: int = EVENTS_LIMIT
) -> LineEvents:
    """A line's events in time order, a keyset page at a time; NotFound if the invoice
    has no such line."""
    position = EVENT_PAGES.decode(cursor)
    found = list(
        InvoiceLine.objects.filter(pk=line_id, invoice_id=invoice_id).values(
            *_LINE, "client_id", "invoice__number", "invoice__client__name", *_RANGES
        )
    )
    if not found:
        raise NotFound("line")
    first = found[0]
    ranges = [tuple(r[c] for c in _RANGES) for r in found if r["ranges__occurred_from"]]
    at = position.values[0] if position else None
    qs = events_billed_by(
        first["client_id"], first["kind"], ranges, at, bool(position and position.backwards)
    )
    page = EVENT_PAGES.paginate(qs, position, limit, _EVENT)
    return LineEvents(
        invoice_id=invoice_id,
        invoice_number=invoice_name(first["invoice__number"], invoice_id),
        client_name=first["invoice__client__name"],
        line=EventLine(**{k: first[k] for k in _LINE}),
        rows=[EventRow(**e) for e in page.results],
        next_cursor=page.next,
        prev_cursor=page.prev,
    )

"""What every read of the portal shares: the statuses and labels a client sees, the
tables a scope exposes, an invoice's row in a table and the client's currency."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from tally.clients.models import Client
from tally.disputes.models import Dispute
from tally.invoicing.models import Invoice
from tally.invoicing.naming import format_invoice_number
from tally.invoicing.status import DerivedStatus, InvoiceQuerySet
from tally.operations.models import EventKind


def _tables(*models: type) -> frozenset[str]:
    """The tables a scope reads, so that on SQLite it exposes only those."""
    return frozenset(m._meta.db_table for m in models)  # type: ignore[attr-defined]


_INVOICE_TABLE = _tables(Invoice, Dispute)

# What the client sees as an invoice's status, most pressing first (invoicing/status.py).
STATUSES = tuple(s.value for s in DerivedStatus)
# What the table can be filtered by: each status, or everything still owed.
FILTER_STATUSES = (*STATUSES, "outstanding")
STATUS_LABELS = {s.value: str(s.label) for s in DerivedStatus}
KIND_LABELS = {kind.value: str(kind.label) for kind in EventKind}
SORTS = ("issue_date", "due_date", "status", "amount", "balance")
PAGE_SIZE = 25


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    number: str
    issue_date: date
    due_date: date
    status: str
    total_minor: int
    balance_minor: int
    currency: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class LineRow:
    id: int
    line_type: str
    kind: str
    description: str
    quantity: int
    unit_price_micros: int
    amount_minor: int
    event_count: int
    reason: str


# The columns of a LineRow, as read from the lines table.
_LINE_COLUMNS = (
    "id",
    "line_type",
    "kind",
    "description",
    "quantity",
    "unit_price_micros",
    "amount_minor",
    "event_count",
    "reason",
)


# -- building blocks ---------------------------------------------------------------------
def _invoices(client_id: int, today: date) -> InvoiceQuerySet:
    """The client's invoices as the table shows them, with their status's sort rank."""
    return Invoice.objects.filter(client_id=client_id).issued().with_status(today)


_ROW_COLUMNS = (
    "id",
    "number",
    "issue_date",
    "due_date",
    "status_rank",
    "total_minor",
    "balance_minor",
    "currency",
)


def _row(values: dict[str, Any]) -> InvoiceRow:
    return InvoiceRow(
        id=values["id"],
        number=format_invoice_number(values["number"]),
        issue_date=values["issue_date"],
        due_date=values["due_date"],
        status=DerivedStatus.ranked(values["status_rank"]).value,
        total_minor=values["total_minor"],
        # An aging bucket's list reads what the invoice owed at the end of its day.
        balance_minor=values["owed_minor" if "owed_minor" in values else "balance_minor"],
        currency=values["currency"],
    )


def _currency(client_id: int) -> str:
    return Client.objects.filter(pk=client_id).values_list("currency", flat=True).get()


def printed_number(number: int) -> str:
    """An invoice's number as printed on it, and as its portal URL spells it."""
    return format_invoice_number(number)

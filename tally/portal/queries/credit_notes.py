"""One credit note, as its PDF prints it: what it credits, how much, and why."""

from dataclasses import dataclass
from datetime import date, datetime

from tally.clients.models import Client
from tally.errors import NotFound
from tally.invoicing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
)
from tally.invoicing.naming import format_credit_note_number, format_invoice_number
from tally.invoicing.queries import CreditedLine, credited_lines

from ..scope import client_scope
from .common import _tables


@dataclass(frozen=True)
class CreditNoteDocument:
    number: str  # CN-000045, as stored
    created_at: datetime
    amount_minor: int
    reason: str  # the client-visible reason (a credit by lines names each line in it)
    currency: str
    invoice_number: str  # the invoice it credits
    invoice_issue_date: date
    invoice_total_minor: int
    invoice_credited_minor: int  # every credit note on the invoice, this one included
    invoice_balance_minor: int  # what the invoice owes now
    lines: tuple[CreditedLine, ...]  # what it credits on each line; none for a credit by amount


def credit_note_document(client_id: int, number: int) -> CreditNoteDocument:
    """The client's credit note numbered `number`; another client's is `NotFound`."""
    with client_scope(client_id, _tables(Client, CreditNote, Invoice, CreditNoteLine, InvoiceLine)):
        values = (
            CreditNote.objects.filter(client_id=client_id, number=number)
            .values(
                "id",
                "number",
                "created_at",
                "amount_minor",
                "reason",
                "invoice__currency",
                "invoice__number",
                "invoice__issue_date",
                "invoice__total_minor",
                "invoice__credited_minor",
                "invoice__balance_minor",
            )
            .first()
        )
        lines = credited_lines(client_id, [values["id"]]) if values else {}
    if values is None or values["invoice__number"] is None or values["invoice__issue_date"] is None:
        raise NotFound("credit note")
    return CreditNoteDocument(
        number=format_credit_note_number(values["number"]),
        created_at=values["created_at"],
        amount_minor=values["amount_minor"],
        reason=values["reason"],
        currency=values["invoice__currency"],
        invoice_number=format_invoice_number(values["invoice__number"]),
        invoice_issue_date=values["invoice__issue_date"],
        invoice_total_minor=values["invoice__total_minor"],
        invoice_credited_minor=values["invoice__credited_minor"],
        invoice_balance_minor=values["invoice__balance_minor"],
        lines=tuple(lines.get(values["id"], ())),
    )

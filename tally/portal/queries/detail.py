"""One invoice: its lines, payments, credit notes, reminders and disputes."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Q

from tally.disputes.models import (
    Dispute,
    DisputeAttachment,
    DisputeLine,
    DisputeMessage,
    DisputeStatus,
)
from tally.errors import NotFound
from tally.invoicing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from tally.invoicing.naming import format_credit_note_number, format_invoice_number
from tally.invoicing.queries import CreditedLine, credited_lines
from tally.invoicing.status import derived_status
from tally.payments.models import Allocation, Payment
from tally.reminders.models import Reminder

from ..scope import client_scope
from .common import (
    _LINE_COLUMNS,
    _ROW_COLUMNS,
    InvoiceRow,
    LineRow,
    _row,
    _tables,
)
from .disputes import DisputeView, _disputes


@dataclass(frozen=True)
class AllocationRow:
    payment_id: int
    received_on: date
    method: str
    reference: str
    payer: str
    amount_minor: int


@dataclass(frozen=True)
class CreditNoteRow:
    number: str
    amount_minor: int
    reason: str
    created_at: datetime
    lines: tuple[CreditedLine, ...] = ()  # a credit note of chosen lines; else none


@dataclass(frozen=True)
class ReminderRow:
    scheduled_for: date
    offset_days: int
    status: str  # scheduled, paused, sent, skipped, failed, …
    sent_at: datetime | None
    detail: str


@dataclass(frozen=True)
class InvoiceDetail:
    row: InvoiceRow
    period_start: date
    period_end: date
    subtotal_minor: int
    tax_minor: int
    tax_rate_bp: int
    allocated_minor: int
    credited_minor: int
    void_reason: str
    lines: list[LineRow]
    allocations: list[AllocationRow]
    credit_notes: list[CreditNoteRow]
    reminders: list[ReminderRow]
    disputes: list[DisputeView]
    # Void and regenerate: the issued invoice that replaced this void one, and the void
    # one this invoice replaces (printed numbers; a draft replacement is not named).
    replacement_number: str | None = None
    replaces_number: str | None = None

    @property
    def open_dispute(self) -> DisputeView | None:
        return next((d for d in self.disputes if d.status == DisputeStatus.OPEN), None)


_DETAIL_TABLES = _tables(
    Invoice,
    Dispute,
    InvoiceLine,
    Allocation,
    Payment,
    CreditNote,
    CreditNoteLine,
    Reminder,
    DisputeLine,
    DisputeMessage,
    DisputeAttachment,
)


def invoice_detail(client_id: int, invoice_id: int, today: date) -> InvoiceDetail:
    with client_scope(client_id, _DETAIL_TABLES):
        # The status is worked out below from the disputes read anyway: building the
        # table's status expression would cost more than this query.
        values = (
            Invoice.objects.filter(client_id=client_id, pk=invoice_id)
            .issued()
            .values(
                *(c for c in _ROW_COLUMNS if c != "status_rank"),
                "status",
                "period_start",
                "period_end",
                "subtotal_minor",
                "tax_minor",
                "tax_rate_bp",
                "allocated_minor",
                "credited_minor",
                "void_reason",
                "replaces_id",
            )
            .first()
        )
        if values is None:
            raise NotFound("invoice")
        replacement_number = replaces_number = None
        if values["status"] == InvoiceStatus.VOID or values["replaces_id"]:
            for number, replaces_id in (
                Invoice.objects.filter(client_id=client_id)
                .filter(Q(replaces_id=invoice_id) | Q(pk=values["replaces_id"] or 0))
                .issued()
                .values_list("number", "replaces_id")
            ):
                if replaces_id == invoice_id:
                    replacement_number = format_invoice_number(number)
                else:
                    replaces_number = format_invoice_number(number)
        lines = [
            LineRow(**v)
            for v in InvoiceLine.objects.filter(client_id=client_id, invoice_id=invoice_id)
            .order_by("position", "id")
            .values(*_LINE_COLUMNS)
        ]
        allocations = [
            AllocationRow(
                payment_id=v["payment_id"],
                received_on=v["payment__received_on"],
                method=v["payment__method"],
                reference=v["payment__reference"],
                payer=v["payment__payer"],
                amount_minor=v["amount_minor"],
            )
            # allocated_minor is the sum of the invoice's (positive) allocations, kept in the
            # same transaction: zero means there are none to read.
            for v in (
                Allocation.objects.filter(client_id=client_id, invoice_id=invoice_id)
                .order_by("payment__received_on", "id")
                .values(
                    "payment_id",
                    "payment__received_on",
                    "payment__method",
                    "payment__reference",
                    "payment__payer",
                    "amount_minor",
                )
                if values["allocated_minor"]
                else ()
            )
        ]
        notes = list(
            CreditNote.objects.filter(client_id=client_id, invoice_id=invoice_id)
            .order_by("created_at", "id")
            .values("id", "number", "amount_minor", "reason", "created_at")
            if values["credited_minor"]  # likewise the sum of its credit notes
            else ()
        )
        credited = credited_lines(client_id, [v["id"] for v in notes])
        credit_notes = [
            CreditNoteRow(
                number=format_credit_note_number(v["number"]),
                amount_minor=v["amount_minor"],
                reason=v["reason"],
                created_at=v["created_at"],
                lines=tuple(credited[v["id"]]),
            )
            for v in notes
        ]
        disputes = _disputes(client_id, invoice_id)
        paused = any(d.status == DisputeStatus.OPEN for d in disputes)
        values["status_rank"] = derived_status(values, paused, today).rank
        reminders = [
            ReminderRow(
                scheduled_for=v["scheduled_for"],
                offset_days=v["offset_days"],
                status="paused" if paused and v["status"] == "scheduled" else v["status"],
                sent_at=v["sent_at"],
                detail=v["status_detail"] if v["status"] == "skipped" else "",
            )
            for v in Reminder.objects.filter(client_id=client_id, invoice_id=invoice_id)
            .order_by("scheduled_for", "id")
            .values("scheduled_for", "offset_days", "status", "sent_at", "status_detail")
        ]
    return InvoiceDetail(
        row=_row(values),
        period_start=values["period_start"],
        period_end=values["period_end"],
        subtotal_minor=values["subtotal_minor"],
        tax_minor=values["tax_minor"],
        tax_rate_bp=values["tax_rate_bp"],
        allocated_minor=values["allocated_minor"],
        credited_minor=values["credited_minor"],
        void_reason=values["void_reason"],
        lines=lines,
        allocations=allocations,
        credit_notes=credit_notes,
        reminders=reminders,
        disputes=disputes,
        replacement_number=replacement_number,
        replaces_number=replaces_number,
    )


def invoice_id_for_number(client_id: int, number: int) -> int:
    with client_scope(client_id, _tables(Invoice)):
        found = (
            Invoice.objects.filter(client_id=client_id, number=number)
            .issued()
            .values_list("id", flat=True)
            .first()
        )
    if found is None:
        raise NotFound("invoice")
    return found

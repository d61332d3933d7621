"""One invoice as the operator sees it: what its client sees (header, lines, payments,
credit notes, reminders, disputes), the invoice it replaces or was replaced by, and its
audit history; and the events behind a line, a keyset page at a time."""

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, Sum

from tally.accounts.models import User
from tally.audit.models import AuditEvent
from tally.disputes.models import Dispute, DisputeLine, DisputeStatus, Resolution
from tally.errors import NotFound
from tally.invoicing.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from tally.invoicing.naming import format_credit_note_number, invoice_name
from tally.invoicing.queries import CreditedLine, credited_lines
from tally.invoicing.status import STATUS_COLUMNS, DerivedStatus, derived_status
from tally.payments.models import Allocation
from tally.reminders.models import Reminder


@dataclass(frozen=True)
class Related:
    """Another invoice named on this one's page (the one it replaces, or its replacement)."""

    id: int
    number: str
    status: str


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
    disputed: bool


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
    id: int
    number: str
    amount_minor: int
    reason: str
    created_at: datetime
    created_by: str
    lines: list[CreditedLine]  # a credit note of chosen lines; else none


@dataclass(frozen=True)
class ReminderRow:
    scheduled_for: date
    offset_days: int
    status: str
    sent_at: datetime | None
    detail: str


@dataclass(frozen=True)
class DisputeRow:
    id: int
    status: str
    reason: str
    amount_minor: int | None
    opened_at: datetime
    resolution_label: str
    resolved_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status == DisputeStatus.OPEN


@dataclass(frozen=True)
class HistoryRow:
    occurred_at: datetime
    actor: str  # the user's name (email) or the system actor's label
    action: str
    object_type: str
    object_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class InvoiceView:
    id: int
    number: str
    issued: bool
    client_id: int
    client_name: str
    client_code: str
    stored_status: str
    status: str  # the derived status the client sees (drafts: "draft")
    currency: str
    period_start: date
    period_end: date
    issue_date: date | None
    due_date: date | None
    subtotal_minor: int
    tax_minor: int
    tax_rate_bp: int
    total_minor: int
    allocated_minor: int
    credited_minor: int
    balance_minor: int
    void_reason: str
    voided_at: datetime | None
    replaces: Related | None
    replacement: Related | None
    lines: list[LineRow]
    allocations: list[AllocationRow]
    credit_notes: list[CreditNoteRow]
    reminders: list[ReminderRow]
    disputes: list[DisputeRow]
    history: list[HistoryRow]

    @property
    def status_label(self) -> str:
        if self.status == "draft":
            return "Draft"
        return str(DerivedStatus(self.status).label)

    @property
    def open_dispute(self) -> DisputeRow | None:
        return next((d for d in self.disputes if d.is_open), None)

    @property
    def is_void(self) -> bool:
        return self.stored_status == InvoiceStatus.VOID

    @property
    def voidable(self) -> bool:
        """Whether voiding is offered at all (the service says why not, if it refuses)."""
        return self.issued and self.stored_status == InvoiceStatus.OPEN

    @property
    def creditable(self) -> bool:
        return self.stored_status == InvoiceStatus.OPEN and self.balance_minor > 0


def _related(invoice_id: int | None) -> Related | None:
    if invoice_id is None:
        return None
    number, status = Invoice.objects.filter(pk=invoice_id).values_list("number", "status").get()
    return Related(invoice_id, invoice_name(number, invoice_id), status)


_HEADER = (
    "id",
    "number",
    "client_id",
    "client__name",
    "client__code",
    "status",
    "currency",
    "period_start",
    "period_end",
    "issue_date",
    "due_date",
    "subtotal_minor",
    "tax_minor",
    "tax_rate_bp",
    "total_minor",
    "allocated_minor",
    "credited_minor",
    "balance_minor",
    "void_reason",
    "voided_at",
    "replaces_id",
    "replacement__id",
)


def invoice_view(invoice_id: int, today: date) -> InvoiceView:
    """Every part of an invoice's page, a query per part (never one per row)."""
    v = Invoice.objects.filter(pk=invoice_id).values(*_HEADER, *STATUS_COLUMNS).first()
    if v is None:
        raise NotFound("invoice")
    disputes = [
        DisputeRow(
            id=d["id"],
            status=d["status"],
            reason=d["reason"],
            amount_minor=d["amount_minor"],
            opened_at=d["opened_at"],
            resolution_label=Resolution(d["resolution"]).label if d["resolution"] else "",
            resolved_at=d["resolved_at"],
        )
        for d in Dispute.objects.filter(invoice_id=invoice_id)
        .order_by("opened_at", "id")
        .values("id", "status", "reason", "amount_minor", "opened_at", "resolution", "resolved_at")
    ]
    open_ids = [d.id for d in disputes if d.is_open]
    disputed_lines = set(
        DisputeLine.objects.filter(dispute_id__in=open_ids).values_list("line_id", flat=True)
    )
    issued = v["number"] is not None
    status = derived_status(v, bool(open_ids), today).value if issued else "draft"
    lines = [
        LineRow(**ln, disputed=ln["id"] in disputed_lines)
        for ln in InvoiceLine.objects.filter(invoice_id=invoice_id)
        .order_by("position", "id")
        .values(
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
    ]
    allocations = [
        AllocationRow(
            payment_id=a["payment_id"],
            received_on=a["payment__received_on"],
            method=a["payment__method"],
            reference=a["payment__reference"],
            payer=a["payment__payer"],
            amount_minor=a["amount_minor"],
        )
        for a in Allocation.objects.filter(invoice_id=invoice_id)
        .order_by("payment__received_on", "id")
        .values(
            "payment_id",
            "payment__received_on",
            "payment__method",
            "payment__reference",
            "payment__payer",
            "amount_minor",
        )
    ]
    notes = list(
        CreditNote.objects.filter(invoice_id=invoice_id)
        .order_by("created_at", "id")
        .values(
            "id",
            "client_id",
            "number",
            "amount_minor",
            "reason",
            "created_at",
            "created_by__full_name",
            "created_by__email",
        )
    )
    credited = credited_lines(notes[0]["client_id"], [c["id"] for c in notes]) if notes else {}
    credit_notes = [
        CreditNoteRow(
            id=c["id"],
            number=format_credit_note_number(c["number"]),
            amount_minor=c["amount_minor"],
            reason=c["reason"],
            created_at=c["created_at"],
            created_by=c["created_by__full_name"] or c["created_by__email"] or "",
            lines=credited.get(c["id"], []),
        )
        for c in notes
    ]
    paused = bool(open_ids)
    reminders = [
        ReminderRow(
            scheduled_for=r["scheduled_for"],
            offset_days=r["offset_days"],
            status="paused" if paused and r["status"] == "scheduled" else r["status"],
            sent_at=r["sent_at"],
            detail=r["status_detail"],
        )
        for r in Reminder.objects.filter(invoice_id=invoice_id)
        .order_by("scheduled_for", "id")
        .values("scheduled_for", "offset_days", "status", "sent_at", "status_detail")
    ]
    history = audit_history(
        invoice_id,
        line_ids=[ln.id for ln in lines],
        credit_note_ids=[c.id for c in credit_notes],
        payment_ids=sorted({a.payment_id for a in allocations}),
        dispute_ids=[d.id for d in disputes],
    )
    return InvoiceView(
        id=v["id"],
        number=invoice_name(v["number"], v["id"]),
        issued=issued,
        client_id=v["client_id"],
        client_name=v["client__name"],
        client_code=v["client__code"],
        stored_status=v["status"],
        status=status,
        currency=v["currency"],
        period_start=v["period_start"],
        period_end=v["period_end"],
        issue_date=v["issue_date"],
        due_date=v["due_date"],
        subtotal_minor=v["subtotal_minor"],
        tax_minor=v["tax_minor"],
        tax_rate_bp=v["tax_rate_bp"],
        total_minor=v["total_minor"],
        allocated_minor=v["allocated_minor"],
        credited_minor=v["credited_minor"],
        balance_minor=v["balance_minor"],
        void_reason=v["void_reason"],
        voided_at=v["voided_at"],
        replaces=_related(v["replaces_id"]),
        replacement=_related(v["replacement__id"]),
        lines=lines,
        allocations=allocations,
        credit_notes=credit_notes,
        reminders=reminders,
        disputes=disputes,
        history=history,
    )


def audit_history(
    invoice_id: int,
    *,
    line_ids: list[int],
    credit_note_ids: list[int],
    payment_ids: list[int],
    dispute_ids: list[int],
) -> list[HistoryRow]:
    """The audit rows about an invoice, its lines, the payments allocated to it, its credit
    notes and disputes, oldest first, with the acting user's name."""
    about = {
        "invoicing.invoice": [invoice_id],
        "invoicing.invoiceline": line_ids,
        "invoicing.creditnote": credit_note_ids,
        "payments.payment": payment_ids,
        "disputes.dispute": dispute_ids,
    }
    condition = reduce(
        or_,
        (
            Q(object_type=kind, object_id__in=[str(i) for i in ids])
            for kind, ids in about.items()
            if ids
        ),
    )
    rows = list(
        AuditEvent.objects.filter(condition)
        .order_by("id")
        .values(
            "occurred_at", "actor_id", "actor_label", "action", "object_type", "object_id", "data"
        )
    )
    names = dict(
        (pk, name or email)
        for pk, name, email in User.objects.filter(
            pk__in={r["actor_id"] for r in rows if r["actor_id"]}
        ).values_list("pk", "full_name", "email")
    )
    return [
        HistoryRow(
            occurred_at=r["occurred_at"],
            actor=names.get(r["actor_id"], r["actor_label"]) if r["actor_id"] else r["actor_label"],
            action=r["action"],
            object_type=r["object_type"],
            object_id=r["object_id"],
            data=json.loads(r["data"]),
        )
        for r in rows
    ]


# -- the events behind a line -------------------------------------------------------------


def events_billed(invoice_id: int) -> int:
    """How many events an invoice's lines bill."""
    got = InvoiceLine.objects.filter(invoice_id=invoice_id).aggregate(n=Sum("event_count"))
    return int(got["n"] or 0)

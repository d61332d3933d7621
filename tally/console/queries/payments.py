"""The console's reads of payments: every client's, newest first; one payment with its
allocations, refunds and audit history; the suggested allocation of money received; each
client's unapplied credit."""

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from tally.audit.models import AuditAction, AuditEvent
from tally.clients.models import Client
from tally.invoicing.models import Invoice, InvoiceStatus
from tally.invoicing.naming import format_invoice_number
from tally.pagination import DateKey, IntKey, KeysetPaginator
from tally.payments.models import Allocation, ClientNotice, Payment, PaymentMethod, Refund

PAGE_SIZE = 50
METHODS = dict(PaymentMethod.choices)


@dataclass(frozen=True)
class PaymentRow:
    id: int
    client_id: int
    client_name: str
    received_on: date
    method: str
    reference: str
    payer: str
    currency: str
    amount_minor: int
    unapplied_minor: int

    @property
    def method_label(self) -> str:
        return METHODS.get(self.method, self.method)


@dataclass(frozen=True)
class PaymentList:
    rows: list[PaymentRow]
    next_cursor: str | None  # older payments
    prev_cursor: str | None  # newer ones


PAYMENT_PAGES = KeysetPaginator(
    "console.payments", [DateKey("received_on"), IntKey("id")], descending=True
)
_COLUMNS = (
    "id",
    "client_id",
    "client__name",
    "received_on",
    "method",
    "reference",
    "payer",
    "currency",
    "amount_minor",
    "unapplied_minor",
)


def payment_list(
    *,
    client_id: int | None = None,
    with_credit: bool = False,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> PaymentList:
    """Every client's payments (or one client's), newest received first; `with_credit`:
    only those with unapplied credit left."""
    qs = Payment.objects.all()
    if client_id is not None:
        qs = qs.filter(client_id=client_id)
    if with_credit:
        qs = qs.filter(unapplied_minor__gt=0)
    page = PAYMENT_PAGES.paginate(qs, PAYMENT_PAGES.decode(cursor), limit, _COLUMNS)
    rows = [
        PaymentRow(
            **{k: v for k, v in row.items() if k != "client__name"},
            client_name=row["client__name"],
        )
        for row in page.results
    ]
    return PaymentList(rows=rows, next_cursor=page.next, prev_cursor=page.prev)


@dataclass(frozen=True)
class ClientChoice:
    id: int
    name: str
    code: str
    currency: str


def client_choices() -> list[ClientChoice]:
    """The clients a payment can come from, by name."""
    return [
        ClientChoice(*row)
        for row in Client.objects.order_by("name", "id").values_list(
            "id", "name", "code", "currency"
        )
    ]


@dataclass(frozen=True)
class AllocationRow:
    invoice_id: int
    invoice_number: str
    invoice_status: str
    invoice_balance_minor: int
    amount_minor: int


@dataclass(frozen=True)
class RefundRow:
    id: int
    refunded_on: date
    method: str
    reference: str
    amount_minor: int
    recorded_by: str | None

    @property
    def method_label(self) -> str:
        return METHODS.get(self.method, self.method)


@dataclass(frozen=True)
class HistoryRow:
    occurred_at: datetime
    actor: str
    what: str
    invoice_number: str | None
    amount_minor: int | None


HISTORY_WORDS: dict[str, str] = {
    AuditAction.PAYMENT_RECORDED: "Recorded",
    AuditAction.PAYMENT_ALLOCATED: "Allocated",
    AuditAction.PAYMENT_UNALLOCATED: "Taken back",
    AuditAction.PAYMENT_REFUNDED: "Refunded",
}


@dataclass(frozen=True)
class OpenInvoice:
    id: int
    number: str
    due_date: date | None
    total_minor: int
    balance_minor: int


@dataclass(frozen=True)
class PaymentDetail:
    id: int
    client_id: int
    client_name: str
    client_code: str
    received_on: date
    method: str
    reference: str
    payer: str
    currency: str
    amount_minor: int
    allocated_minor: int
    refunded_minor: int
    unapplied_minor: int
    recorded_by: str | None
    created_at: datetime
    allocations: list[AllocationRow]
    refunds: list[RefundRow]
    open_invoices: list[OpenInvoice]  # where its credit could go
    history: list[HistoryRow]
    # The client's remittance advice it answers: (notice id, when the client sent it).
    answers: list[tuple[int, datetime]] = field(default_factory=list)

    @property
    def method_label(self) -> str:
        return METHODS.get(self.method, self.method)


def open_invoices(client_id: int) -> list[OpenInvoice]:
    """A client's invoices that still owe, oldest due first: the order money pays them in."""
    return [
        OpenInvoice(
            id=pk,
            number=format_invoice_number(number or 0),  # open: always numbered
            due_date=due,
            total_minor=total,
            balance_minor=balance,
        )
        for pk, number, due, total, balance in Invoice.objects.filter(
            client_id=client_id, status=InvoiceStatus.OPEN
        )
        .order_by("due_date", "number")
        .values_list("id", "number", "due_date", "total_minor", "balance_minor")
    ]


def _mentions(payment_id: int) -> Q:
    """An audit row whose data names the payment (canonical JSON: sorted keys, no spaces)."""
    return Q(data__contains=f'"payment_id":{payment_id},') | Q(
        data__contains=f'"payment_id":{payment_id}}}'
    )


def _history(payment_id: int, invoice_ids: list[int]) -> list[HistoryRow]:
    """What happened to the payment: its own audit events, and the allocations and
    take-backs the invoices record with its id."""
    own = AuditEvent.objects.filter(object_type="payments.payment", object_id=str(payment_id))
    on_invoices = AuditEvent.objects.filter(
        object_type="invoicing.invoice",
        object_id__in=[str(i) for i in invoice_ids],
    ).filter(_mentions(payment_id))
    rows = list(
        (own | on_invoices)
        .order_by("id")
        .values_list("occurred_at", "actor_label", "action", "object_type", "object_id", "data")
    )
    numbers = dict(Invoice.objects.filter(pk__in=invoice_ids).values_list("id", "number"))
    history = []
    for at, actor, action, object_type, object_id, data in rows:
        after = json.loads(data).get("after") or {}
        number = numbers.get(int(object_id)) if object_type == "invoicing.invoice" else None
        raw = after.get("refund_minor") or after.get("amount_minor")
        if action == AuditAction.PAYMENT_UNALLOCATED and after.get("why"):
            what = f"Taken back ({after['why']})"
        else:
            what = HISTORY_WORDS.get(action, action)
        history.append(
            HistoryRow(
                occurred_at=at,
                actor=actor,
                what=what,
                invoice_number=format_invoice_number(number) if number else None,
                amount_minor=raw if isinstance(raw, int) else None,
            )
        )
    return history


def payment_detail(payment_id: int) -> PaymentDetail | None:
    found = (
        Payment.objects.filter(pk=payment_id)
        .values(
            "id",
            "client_id",
            "client__name",
            "client__code",
            "received_on",
            "method",
            "reference",
            "payer",
            "currency",
            "amount_minor",
            "allocated_minor",
            "refunded_minor",
            "unapplied_minor",
            "recorded_by__email",
            "created_at",
        )
        .first()
    )
    if found is None:
        return None
    allocations = [
        AllocationRow(
            invoice_id=invoice_id,
            invoice_number=format_invoice_number(number or 0),  # allocated: always issued
            invoice_status=status,
            invoice_balance_minor=balance,
            amount_minor=amount,
        )
        for invoice_id, number, status, balance, amount in Allocation.objects.filter(
            payment_id=payment_id
        )
        .order_by("invoice__number")
        .values_list(
            "invoice_id",
            "invoice__number",
            "invoice__status",
            "invoice__balance_minor",
            "amount_minor",
        )
    ]
    refunds = [
        RefundRow(*row)
        for row in Refund.objects.filter(payment_id=payment_id)
        .order_by("refunded_on", "id")
        .values_list(
            "id", "refunded_on", "method", "reference", "amount_minor", "recorded_by__email"
        )
    ]
    # Every invoice it ever touched, for the history: the audit rows name them.
    touched = list(
        AuditEvent.objects.filter(
            object_type="invoicing.invoice",
            client_id=found["client_id"],
            action__in=[AuditAction.PAYMENT_ALLOCATED, AuditAction.PAYMENT_UNALLOCATED],
        )
        .filter(_mentions(payment_id))
        .values_list("object_id", flat=True)
    )
    return PaymentDetail(
        id=found["id"],
        client_id=found["client_id"],
        client_name=found["client__name"],
        client_code=found["client__code"],
        received_on=found["received_on"],
        method=found["method"],
        reference=found["reference"],
        payer=found["payer"],
        currency=found["currency"],
        amount_minor=found["amount_minor"],
        allocated_minor=found["allocated_minor"],
        refunded_minor=found["refunded_minor"],
        unapplied_minor=found["unapplied_minor"],
        recorded_by=found["recorded_by__email"],
        created_at=found["created_at"],
        allocations=allocations,
        refunds=refunds,
        open_invoices=open_invoices(found["client_id"]),
        history=_history(payment_id, [int(i) for i in touched]),
        answers=list(
            ClientNotice.objects.filter(payment_id=payment_id)
            .order_by("created_at", "id")
            .values_list("id", "created_at")
        ),
    )


# ---------------------------------------------------------------------------------------
# The suggested allocation

# A run of digits, on its own or after INV/#: "INV-000037", "inv 37", "37/38", "#37".
_NUMBER = re.compile(r"(?<![0-9])0*([1-9][0-9]{0,17})(?![0-9])")


def numbers_in(reference: str) -> list[int]:
    """The invoice numbers a payment's reference may name, in the order it names them."""
    seen: list[int] = []
    for match in _NUMBER.finditer(reference):
        n = int(match.group(1))
        if n not in seen:
            seen.append(n)
    return seen


@dataclass(frozen=True)
class SuggestedLine:
    invoice: OpenInvoice
    amount_minor: int
    named: bool  # the reference names this invoice


def suggest_allocation(client_id: int, amount_minor: int, reference: str) -> list[SuggestedLine]:
    """How money received would be spread over the client's open invoices: those the
    reference names first (in its order), then the oldest due first; each gets what it
    still owes while the money lasts. Every open invoice is listed, with 0 past the money."""
    invoices = open_invoices(client_id)
    by_number = {int(inv.number.removeprefix("INV-")): inv for inv in invoices}
    named = [by_number[n] for n in numbers_in(reference) if n in by_number]
    order = named + [inv for inv in invoices if inv not in named]
    left = max(0, amount_minor)
    lines = []
    for inv in order:
        take = min(left, inv.balance_minor)
        left -= take
        lines.append(SuggestedLine(invoice=inv, amount_minor=take, named=inv in named))
    return lines


# ---------------------------------------------------------------------------------------
# Unapplied credit


@dataclass(frozen=True)
class CreditRow:
    client_id: int
    client_name: str
    client_code: str
    currency: str
    credit_minor: int
    payments: int  # with credit left


@dataclass(frozen=True)
class CreditList:
    rows: list[CreditRow]
    next_cursor: str | None
    prev_cursor: str | None


CREDIT_PAGES = KeysetPaginator("console.credit", [IntKey("id")])


def credit_by_client(cursor: str | None = None, limit: int = PAGE_SIZE) -> CreditList:
    """Each client with unapplied credit, in its currency (a client pays in one)."""
    with_credit = Payment.objects.filter(client_id=OuterRef("pk"), unapplied_minor__gt=0)
    credit = with_credit.values("client_id").annotate(s=Sum("unapplied_minor")).values("s")
    count = with_credit.values("client_id").annotate(n=Count("id")).values("n")
    qs = Client.objects.annotate(
        credit=Coalesce(Subquery(credit), 0), n=Coalesce(Subquery(count), 0)
    ).filter(credit__gt=0)
    page = CREDIT_PAGES.paginate(
        qs, CREDIT_PAGES.decode(cursor), limit, ("id", "name", "code", "currency", "credit", "n")
    )
    rows = [
        CreditRow(
            client_id=r["id"],
            client_name=r["name"],
            client_code=r["code"],
            currency=r["currency"],
            credit_minor=r["credit"],
            payments=r["n"],
        )
        for r in page.results
    ]
    return CreditList(rows=rows, next_cursor=page.next, prev_cursor=page.prev)

"""What the client told the 3PL about money (credit to apply, payments it reported) and
the answers; and what its forms offer: the open invoices, the credit left to ask for."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Exists, OuterRef, Sum

from tally.clients.models import Client
from tally.invoicing.models import Invoice, InvoiceStatus
from tally.invoicing.naming import format_invoice_number
from tally.pagination import DateTimeKey, IntKey, KeysetPaginator
from tally.payments.models import (
    Allocation,
    ClientNotice,
    ClientNoticeInvoice,
    NoticeKind,
    NoticeStatus,
    Payment,
    method_label,
)

from ..scope import client_scope
from .common import _INVOICE_TABLE, PAGE_SIZE, _currency, _tables

KIND_LABELS = dict(NoticeKind.choices)
NOTICE_STATUS_LABELS = dict(NoticeStatus.choices)
_NOTICE_TABLES = _tables(ClientNotice, ClientNoticeInvoice) | _INVOICE_TABLE


@dataclass(frozen=True)
class NamedInvoice:
    number: str
    amount_minor: int | None  # a credit request's amount for it; none on remittance advice


@dataclass(frozen=True)
class NoticeRow:
    id: int
    kind: str
    status: str
    currency: str
    amount_minor: int
    paid_on: date | None
    method: str
    reference: str
    answer: str
    created_at: datetime
    closed_at: datetime | None
    invoices: list[NamedInvoice]
    # Remittance advice done: the payment the 3PL recorded for it (amount, day received).
    payment_amount_minor: int | None = None
    payment_currency: str | None = None
    payment_received_on: date | None = None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def status_label(self) -> str:
        return NOTICE_STATUS_LABELS[self.status]

    @property
    def method_label(self) -> str:
        return method_label(self.method)


@dataclass(frozen=True)
class NoticePage:
    rows: list[NoticeRow]
    next_cursor: str | None
    prev_cursor: str | None


_PAGES = KeysetPaginator(
    "portal.notices", [DateTimeKey("created_at"), IntKey("id")], descending=True
)
_COLUMNS = (
    "id",
    "kind",
    "status",
    "currency",
    "amount_minor",
    "paid_on",
    "method",
    "reference",
    "answer",
    "created_at",
    "closed_at",
)
_PAGE_COLUMNS = (
    *_COLUMNS,
    "payment__amount_minor",
    "payment__currency",
    "payment__received_on",
)


def notice_page(client_id: int, cursor: str | None = None, limit: int = PAGE_SIZE) -> NoticePage:
    """The client's credit requests and remittance advice, newest first, with the
    invoices each names: two statements a page."""
    with client_scope(client_id, _NOTICE_TABLES | _tables(Payment)):
        qs = ClientNotice.objects.filter(client_id=client_id)
        page = _PAGES.paginate(qs, _PAGES.decode(cursor), limit, _PAGE_COLUMNS)
        ids = [v["id"] for v in page.results]
        named: dict[int, list[NamedInvoice]] = {}
        for notice_id, number, amount in (
            ClientNoticeInvoice.objects.filter(client_id=client_id, notice_id__in=ids)
            .order_by("invoice__number")
            .values_list("notice_id", "invoice__number", "amount_minor")
        ):
            if number is not None:  # an issued invoice (only those can be named)
                named.setdefault(notice_id, []).append(
                    NamedInvoice(format_invoice_number(number), amount)
                )
    rows = [
        NoticeRow(
            **{c: v[c] for c in _COLUMNS},
            invoices=named.get(v["id"], []),
            payment_amount_minor=v["payment__amount_minor"],
            payment_currency=v["payment__currency"],
            payment_received_on=v["payment__received_on"],
        )
        for v in page.results
    ]
    return NoticePage(rows, page.next, page.prev)


@dataclass(frozen=True)
class OpenInvoice:
    id: int
    number: str
    due_date: date
    balance_minor: int


@dataclass(frozen=True)
class NoticeChoices:
    """What the forms offer: the client's open invoices (oldest due first), its unapplied
    credit and how much of it a request still waiting has asked for already."""

    currency: str
    invoices: list[OpenInvoice]
    credit_minor: int
    asked_minor: int

    @property
    def available_minor(self) -> int:
        return max(self.credit_minor - self.asked_minor, 0)


def notice_choices(client_id: int) -> NoticeChoices:
    with client_scope(client_id, _NOTICE_TABLES | _tables(Payment, Client)):
        currency = _currency(client_id)
        invoices = [
            OpenInvoice(i, format_invoice_number(n), d, b)
            for i, n, d, b in Invoice.objects.filter(
                client_id=client_id, status=InvoiceStatus.OPEN, balance_minor__gt=0
            )
            .issued()
            .order_by("due_date", "number")
            .values_list("id", "number", "due_date", "balance_minor")
        ]
        credit = Payment.objects.filter(client_id=client_id, unapplied_minor__gt=0).aggregate(
            s=Sum("unapplied_minor")
        )["s"]
        asked = ClientNotice.objects.filter(
            client_id=client_id, kind=NoticeKind.CREDIT_REQUEST, status=NoticeStatus.WAITING
        ).aggregate(s=Sum("amount_minor"))["s"]
    return NoticeChoices(currency, invoices, credit or 0, asked or 0)


@dataclass(frozen=True)
class ReportedPayment:
    reported_at: datetime
    paid_on: date
    amount_minor: int
    currency: str
    method: str
    reference: str

    @property
    def method_label(self) -> str:
        return method_label(self.method)


def payment_reported(client_id: int, invoice_id: int) -> ReportedPayment | None:
    """The client's latest remittance advice naming the invoice while it waits for the
    3PL and no payment has been put on the invoice since: what the invoice says until a
    payment is recorded against it."""
    paid_since = Allocation.objects.filter(
        invoice_id=invoice_id, created_at__gte=OuterRef("created_at")
    )
    with client_scope(client_id, _NOTICE_TABLES | _tables(Allocation, Payment)):
        found = (
            ClientNotice.objects.filter(
                client_id=client_id,
                kind=NoticeKind.REMITTANCE,
                status=NoticeStatus.WAITING,
                invoices__invoice_id=invoice_id,
            )
            .filter(~Exists(paid_since))
            .order_by("-created_at", "-id")
            .values_list("created_at", "paid_on", "amount_minor", "currency", "method", "reference")
            .first()
        )
    if found is None:
        return None
    reported_at, paid_on, amount_minor, currency, method, reference = found
    assert paid_on is not None  # remittance advice says when it was paid
    return ReportedPayment(reported_at, paid_on, amount_minor, currency, method, reference)

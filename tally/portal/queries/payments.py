"""Payments received and what each paid."""

from dataclasses import dataclass
from datetime import date

from django.db.models import (
    Count,
    Sum,
)
from django.db.models.functions import Coalesce

from tally.clients.models import Client
from tally.errors import NotFound
from tally.invoicing.models import (
    Invoice,
)
from tally.invoicing.naming import format_invoice_number
from tally.pagination import DateKey, IntKey, KeysetPaginator
from tally.payments.models import Allocation, Payment, Refund, method_label

from ..scope import client_scope
from .common import (
    PAGE_SIZE,
    _currency,
    _tables,
)


@dataclass(frozen=True)
class AppliedTo:
    invoice_number: str
    amount_minor: int


@dataclass(frozen=True)
class RefundedRow:
    refunded_on: date
    method: str
    reference: str
    amount_minor: int

    @property
    def method_label(self) -> str:
        return method_label(self.method)


@dataclass(frozen=True)
class PaymentRow:
    id: int
    received_on: date
    method: str
    reference: str
    payer: str
    amount_minor: int
    unapplied_minor: int
    applied_to: list[AppliedTo]
    refunds: list[RefundedRow]  # unapplied credit paid back out of this payment

    @property
    def method_label(self) -> str:
        return method_label(self.method)


@dataclass(frozen=True)
class PaymentPage:
    currency: str
    rows: list[PaymentRow]
    count: int  # payments received in the range, on every page
    total_minor: int  # and what they add up to: the "Paid year to date" card for this year
    credit_minor: int  # unapplied credit on the account now, whatever the range
    next_cursor: str | None  # older payments
    prev_cursor: str | None  # newer ones


# Newest first.
PAYMENT_PAGES = KeysetPaginator(
    "portal.payments", [DateKey("received_on"), IntKey("id")], descending=True
)
_PAYMENT_COLUMNS = (
    "id",
    "received_on",
    "method",
    "reference",
    "payer",
    "amount_minor",
    "unapplied_minor",
)


def payment_page(
    client_id: int,
    received_from: date | None = None,
    received_to: date | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> PaymentPage:
    """Payments received, newest first, keyset-paginated on (received_on, id), each with
    the invoices it paid: "did you get my payment, and what did you put it against?"."""
    with client_scope(client_id, _tables(Client, Payment, Allocation, Invoice, Refund)):
        currency = _currency(client_id)
        qs = Payment.objects.filter(client_id=client_id)
        if received_from is not None:
            qs = qs.filter(received_on__gte=received_from)
        if received_to is not None:
            qs = qs.filter(received_on__lte=received_to)
        summary = qs.aggregate(n=Count("id"), total=Coalesce(Sum("amount_minor"), 0))
        credit = Payment.objects.filter(client_id=client_id).aggregate(
            c=Coalesce(Sum("unapplied_minor"), 0)
        )["c"]
        page = PAYMENT_PAGES.paginate(qs, PAYMENT_PAGES.decode(cursor), limit, _PAYMENT_COLUMNS)
        values = page.results
        applied: dict[int, list[AppliedTo]] = {v["id"]: [] for v in values}
        for payment_id, number, amount in (
            Allocation.objects.filter(client_id=client_id, payment_id__in=list(applied))
            .order_by("payment_id", "invoice__number")
            .values_list("payment_id", "invoice__number", "amount_minor")
        ):
            if number is not None:  # always: only issued invoices take payments
                applied[payment_id].append(AppliedTo(format_invoice_number(number), amount))
        refunds: dict[int, list[RefundedRow]] = {v["id"]: [] for v in values}
        for payment_id, refunded_on, method, reference, amount in (
            Refund.objects.filter(client_id=client_id, payment_id__in=list(refunds))
            .order_by("payment_id", "refunded_on", "id")
            .values_list("payment_id", "refunded_on", "method", "reference", "amount_minor")
        ):
            refunds[payment_id].append(RefundedRow(refunded_on, method, reference, amount))
    rows = [PaymentRow(**v, applied_to=applied[v["id"]], refunds=refunds[v["id"]]) for v in values]
    return PaymentPage(
        currency=currency,
        rows=rows,
        count=summary["n"],
        total_minor=summary["total"],
        credit_minor=credit,
        next_cursor=page.next,
        prev_cursor=page.prev,
    )


@dataclass(frozen=True)
class PaymentReceipt:
    """One payment as its receipt prints it: what was received, how, and where it went."""

    id: int
    received_on: date
    method: str
    reference: str
    payer: str
    currency: str
    amount_minor: int
    unapplied_minor: int  # credit on the account still, from this payment
    applied_to: list[AppliedTo]  # the invoices it paid, by number
    refunds: list[RefundedRow]  # its credit paid back

    @property
    def method_label(self) -> str:
        return method_label(self.method)


def payment_receipt(client_id: int, payment_id: int) -> PaymentReceipt:
    """The client's payment `payment_id`; another client's is `NotFound`."""
    with client_scope(client_id, _tables(Payment, Allocation, Invoice, Refund)):
        values = (
            Payment.objects.filter(client_id=client_id, pk=payment_id)
            .values(*_PAYMENT_COLUMNS, "currency")
            .first()
        )
        if values is None:
            raise NotFound("payment")
        applied = [
            AppliedTo(format_invoice_number(number), amount)
            for number, amount in Allocation.objects.filter(
                client_id=client_id, payment_id=payment_id
            )
            .order_by("invoice__number")
            .values_list("invoice__number", "amount_minor")
            if number is not None
        ]
        refunds = [
            RefundedRow(*row)
            for row in Refund.objects.filter(client_id=client_id, payment_id=payment_id)
            .order_by("refunded_on", "id")
            .values_list("refunded_on", "method", "reference", "amount_minor")
        ]
    return PaymentReceipt(**values, applied_to=applied, refunds=refunds)

"""Accounts receivable aging: open balances by days past due, as of a day."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import (
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from tally.clients.models import Client
from tally.errors import NotFound
from tally.invoicing.models import (
    CreditNote,
    Invoice,
    InvoiceStatus,
)
from tally.payments.models import Allocation, Payment

from ..scope import client_scope
from .common import _currency, _tables


@dataclass(frozen=True)
class AgingBucket:
    key: str
    label: str
    balance_minor: int
    invoice_count: int
    invoice_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AgingReport:
    as_of: date
    currency: str
    buckets: list[AgingBucket]

    @property
    def total_minor(self) -> int:
        return sum(b.balance_minor for b in self.buckets)

    @property
    def invoice_count(self) -> int:
        return sum(b.invoice_count for b in self.buckets)


AGING_BUCKETS = (
    ("current", "Current", None, 0),
    ("1_30", "1–30 days", 1, 30),
    ("31_60", "31–60 days", 31, 60),
    ("61_90", "61–90 days", 61, 90),
    ("over_90", "Over 90 days", 91, None),
)


def aging(client_id: int, as_of: date) -> AgingReport:
    """Open balances by days past due, as they stood at the end of `as_of`: payments
    received and credits issued after that day do not count yet."""
    with client_scope(client_id, _tables(Client, Invoice, Allocation, Payment, CreditNote)):
        currency = _currency(client_id)
        paid = (
            Allocation.objects.filter(invoice_id=OuterRef("pk"), payment__received_on__lte=as_of)
            .values("invoice_id")
            .annotate(s=Sum("amount_minor"))
            .values("s")
        )
        credited = (
            CreditNote.objects.filter(invoice_id=OuterRef("pk"), created_at__date__lte=as_of)
            .values("invoice_id")
            .annotate(s=Sum("amount_minor"))
            .values("s")
        )
        # Only an invoice with a balance today, or voided, paid or credited after `as_of`,
        # can have had a balance at the end of `as_of`: the others need no sums.
        candidates = (
            Q(balance_minor__gt=0)
            | Q(status=InvoiceStatus.VOID, voided_at__date__gt=as_of)  # owed nothing now
            | Q(
                pk__in=Allocation.objects.filter(
                    client_id=client_id, payment__received_on__gt=as_of
                ).values("invoice_id")
            )
            | Q(
                pk__in=CreditNote.objects.filter(
                    client_id=client_id, created_at__date__gt=as_of
                ).values("invoice_id")
            )
        )
        rows = (
            Invoice.objects.filter(client_id=client_id, issue_date__lte=as_of)
            .filter(candidates)
            .issued()
            .exclude(status=InvoiceStatus.VOID, voided_at__date__lte=as_of)
            .annotate(
                paid_asof=Coalesce(Subquery(paid), 0), credited_asof=Coalesce(Subquery(credited), 0)
            )
            .values_list("id", "due_date", "total_minor", "paid_asof", "credited_asof")
        )
        buckets = {key: AgingBucket(key, label, 0, 0, []) for key, label, _, _ in AGING_BUCKETS}
        for invoice_id, due, total, paid_asof, credited_asof in rows:
            balance = total - paid_asof - credited_asof
            if balance <= 0:
                continue
            days = (as_of - due).days if due else 0
            key = _bucket_for(days)
            b = buckets[key]
            b.invoice_ids.append(invoice_id)
            buckets[key] = AgingBucket(
                key, b.label, b.balance_minor + balance, b.invoice_count + 1, b.invoice_ids
            )
    return AgingReport(as_of, currency, list(buckets.values()))


def _bucket_for(days_past_due: int) -> str:
    for key, _, low, high in AGING_BUCKETS:
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return key
    return "over_90"


def aging_bucket_range(key: str, as_of: date) -> tuple[date | None, date | None]:
    """The due-date range of a bucket as of a day, for linking a bucket to its invoices."""
    for k, _, low, high in AGING_BUCKETS:
        if k == key:
            if low is None:  # current: not yet due
                return as_of, None
            return (as_of - timedelta(days=high) if high is not None else None), as_of - timedelta(
                days=low
            )
    raise NotFound("aging bucket")

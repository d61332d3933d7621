"""Accounts receivable aging: open balances by days past due, as of a day."""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Sum

from tally.clients.models import Client
from tally.errors import NotFound
from tally.invoicing.models import CreditNote, Invoice
from tally.payments.aging import (
    AGING_BUCKETS,
    bucket_due_range,
    bucket_for,
    days_past_due,
    owed_at_end_of,
)
from tally.payments.models import Allocation, Payment

from ..scope import client_scope
from .common import _currency, _tables

__all__ = ["AGING_BUCKETS", "AgingBucket", "AgingReport", "aging", "aging_bucket_range"]


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
    # Today's unapplied credit: received, on no invoice (not in the buckets; a day past
    # has none figured).
    credit_minor: int = 0

    @property
    def total_minor(self) -> int:
        return sum(b.balance_minor for b in self.buckets)

    @property
    def invoice_count(self) -> int:
        return sum(b.invoice_count for b in self.buckets)


def aging(client_id: int, as_of: date) -> AgingReport:
    """Open balances by days past due, as they stood at the end of `as_of`: payments
    received and credits issued after that day do not count yet."""
    with client_scope(client_id, _tables(Client, Invoice, Allocation, Payment, CreditNote)):
        currency = _currency(client_id)
        rows = owed_at_end_of(as_of, client_id).values_list("id", "due_date", "owed_minor")
        buckets = {key: AgingBucket(key, label, 0, 0, []) for key, label, _, _ in AGING_BUCKETS}
        for invoice_id, due, balance in rows:
            key = bucket_for(days_past_due(due, as_of))
            b = buckets[key]
            b.invoice_ids.append(invoice_id)
            buckets[key] = AgingBucket(
                key, b.label, b.balance_minor + balance, b.invoice_count + 1, b.invoice_ids
            )
        credit = Payment.objects.filter(client_id=client_id, unapplied_minor__gt=0).aggregate(
            s=Sum("unapplied_minor")
        )["s"]
    return AgingReport(as_of, currency, list(buckets.values()), credit or 0)


def aging_bucket_range(key: str, as_of: date) -> tuple[date | None, date | None]:
    """The due-date range of a bucket as of a day, for linking a bucket to its invoices."""
    try:
        return bucket_due_range(key, as_of)
    except KeyError:
        raise NotFound("aging bucket") from None

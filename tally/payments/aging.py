"""Receivables aging: what each issued invoice still owed at the end of a day, by days past
due. One definition for the client's aging report (portal) and the operator's overview
(console); it lives here, below both, because what was owed on a day depends on the
payments received by then.
"""

from datetime import date, timedelta

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from tally.invoicing.models import CreditNote, Invoice, InvoiceStatus
from tally.invoicing.status import InvoiceQuerySet

from .models import Allocation, Payment

# (key, label, first day past due, last day past due); None: open-ended. "Current" is
# not yet due (0 days or fewer past due, or no due date).
AGING_BUCKETS: tuple[tuple[str, str, int | None, int | None], ...] = (
    ("current", "Current", None, 0),
    ("1_30", "1–30 days", 1, 30),
    ("31_60", "31–60 days", 31, 60),
    ("61_90", "61–90 days", 61, 90),
    ("over_90", "Over 90 days", 91, None),
)
BUCKET_KEYS = tuple(key for key, *_ in AGING_BUCKETS)
BUCKET_LABELS = {key: label for key, label, *_ in AGING_BUCKETS}


def future_day_problem(as_of: date, today: date) -> str | None:
    """Why the aging as of `as_of` cannot be shown, or None: a day to come is refused
    (nothing is known of it yet). The one rule for every form that asks for the day."""
    if as_of <= today:
        return None
    return (
        f"Choose today ({today:%B} {today.day}, {today.year}) or an earlier day: "
        "the aging of a day to come is not known yet."
    )


def bucket_for(days_past_due: int) -> str:
    for key, _, low, high in AGING_BUCKETS:
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return key
    return "over_90"


def days_past_due(due: date | None, as_of: date) -> int:
    return (as_of - due).days if due else 0


def bucket_due_range(key: str, as_of: date) -> tuple[date | None, date | None]:
    """The due dates (inclusive; None: open-ended) of a bucket's invoices as of a day.
    KeyError for a key that is not a bucket."""
    for k, _, low, high in AGING_BUCKETS:
        if k == key:
            if low is None:  # current: not yet due
                return as_of, None
            return (
                as_of - timedelta(days=high) if high is not None else None,
                as_of - timedelta(days=low),
            )
    raise KeyError(key)


def bucket_expression(as_of: date) -> Case:
    """An invoice's bucket as of a day, in SQL, from its due date: `bucket_for` in the
    database (an invoice with no due date is current)."""
    whens = [When(due_date__isnull=True, then=Value("current"))]
    # In order, each bucket is the first whose earliest due date the invoice's reaches.
    for key, *_ in AGING_BUCKETS[:-1]:
        earliest, _ = bucket_due_range(key, as_of)
        whens.append(When(due_date__gte=earliest, then=Value(key)))
    return Case(*whens, default=Value(AGING_BUCKETS[-1][0]), output_field=CharField())


def owed_at_end_of(as_of: date, client_id: int | None = None) -> InvoiceQuerySet:
    """The issued invoices that still owed something at the end of `as_of` (one client's,
    or every client's), annotated `owed_minor`: the total less the payments received and
    the credits issued by then. Payments and credits after `as_of` do not count yet, and
    an invoice voided after it still owed then."""
    # Each allocation looks its payment's day up by key. Joined instead, PostgreSQL without
    # statistics hashed every payment received by `as_of` once per invoice: 1.9 s for the
    # 1,229 open invoices of the benchmark (bench/RESULTS.md); this plan has no other shape.
    received_on = Payment.objects.filter(pk=OuterRef("payment_id")).values("received_on")
    paid = (
        Allocation.objects.filter(invoice_id=OuterRef("pk"))
        .annotate(received_on=Subquery(received_on))
        .filter(received_on__lte=as_of)
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
    per_client = {"client_id": client_id} if client_id is not None else {}
    # What happened to an invoice after `as_of`: voided, paid or credited since. Without
    # any of it, what it owed then is what it owes now (its stored balance), so only
    # these invoices need their sums worked out: none for today's aging, the invoices
    # settled since for a past day's.
    changed_since = (
        Q(status=InvoiceStatus.VOID, voided_at__date__gt=as_of)  # owed nothing now
        | Q(
            pk__in=Allocation.objects.filter(**per_client, payment__received_on__gt=as_of).values(
                "invoice_id"
            )
        )
        | Q(
            pk__in=CreditNote.objects.filter(**per_client, created_at__date__gt=as_of).values(
                "invoice_id"
            )
        )
    )
    # Only an invoice with a balance today, or changed since, can have had a balance at
    # the end of `as_of`. A balance is owed on an open invoice only (stated so that the
    # status index serves).
    candidates = Q(status=InvoiceStatus.OPEN, balance_minor__gt=0) | changed_since
    owed_then = Case(
        When(
            changed_since,
            then=F("total_minor") - Coalesce(Subquery(paid), 0) - Coalesce(Subquery(credited), 0),
        ),
        default=F("balance_minor"),
        output_field=BigIntegerField(),
    )
    invoices: InvoiceQuerySet = Invoice.objects.filter(**per_client)
    return (
        invoices.filter(issue_date__lte=as_of)
        .filter(candidates)
        .issued()
        .exclude(status=InvoiceStatus.VOID, voided_at__date__lte=as_of)
        .annotate(owed_minor=owed_then)
        .filter(owed_minor__gt=0)
    )

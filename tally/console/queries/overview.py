"""The overview: where the money stands in each currency, who owes what by age, and the
work waiting. Set-based: a fixed handful of statements whatever the number of clients."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Q, Sum

from tally.disputes.models import Dispute, DisputeStatus
from tally.invoicing.models import Invoice, InvoiceStatus
from tally.invoicing.status import OUTSTANDING, DerivedStatus
from tally.payments.aging import AGING_BUCKETS, bucket_expression, owed_at_end_of
from tally.payments.models import NoticeKind, Payment
from tally.reminders.models import Reminder

from .disputes import waiting_for_us
from .notices import waiting_counts
from .reminders import TO_REVIEW
from .unrated import unrated_totals


@dataclass(frozen=True)
class CurrencyFigures:
    currency: str
    outstanding_minor: int = 0
    outstanding_count: int = 0
    overdue_minor: int = 0
    overdue_count: int = 0
    disputed_minor: int = 0  # what the invoices under an open dispute still owe
    disputed_count: int = 0
    unapplied_minor: int = 0  # payments' credit not yet applied to an invoice
    paid_month_minor: int = 0  # money received this month, to today
    paid_year_minor: int = 0


@dataclass(frozen=True)
class AgingCell:
    key: str
    balance_minor: int
    invoice_count: int


@dataclass(frozen=True)
class AgingRow:
    client_id: int | None  # None on a currency's total row
    client_name: str
    currency: str
    cells: list[AgingCell]

    @property
    def balance_minor(self) -> int:
        return sum(c.balance_minor for c in self.cells)

    @property
    def invoice_count(self) -> int:
        return sum(c.invoice_count for c in self.cells)


@dataclass(frozen=True)
class AgingTable:
    as_of: date
    rows: list[AgingRow]  # by currency, then most owed first (the first few of each)
    totals: list[AgingRow]  # one per currency, of every client
    clients: dict[str, int]  # per currency, how many clients owed in it (rows or not)

    def rows_in(self, currency: str) -> list[AgingRow]:
        return [r for r in self.rows if r.currency == currency]


@dataclass(frozen=True)
class WorkQueues:
    disputes_waiting: int  # open disputes where the client spoke last
    drafts: int
    reminders: int  # failed or needing review
    unrated_events: int
    unrated_clients: int
    # What clients told us about money, waiting for an operator.
    credit_requests: int = 0
    remittances: int = 0


@dataclass(frozen=True)
class Overview:
    currencies: list[CurrencyFigures]
    queues: WorkQueues


def _add(figures: dict[str, dict[str, int]], row: dict[str, Any]) -> None:
    """A currency's sums (None where nothing matched) into its figures."""
    currency = row.pop("currency")
    figures[currency].update({k: int(v or 0) for k, v in row.items()})


def currency_figures(today: date) -> list[CurrencyFigures]:
    """Per currency billed: what is owed, overdue and disputed (the invoices' status rules,
    `status_condition`), unapplied credit, and money received this month and year."""
    issued = Invoice.objects.issued()
    overdue = issued.status_condition(DerivedStatus.OVERDUE, today)
    disputed = issued.status_condition(DerivedStatus.DISPUTED, today)
    open_disputes = Dispute.objects.filter(status=DisputeStatus.OPEN).values("invoice_id")
    # Only open invoices owe, and only those or the disputed can be in any figure.
    owed = issued.filter(OUTSTANDING | Q(pk__in=open_disputes)).values("currency")
    figures: dict[str, dict[str, int]] = defaultdict(dict)
    for row in owed.annotate(
        outstanding_minor=Sum("balance_minor", filter=OUTSTANDING),
        outstanding_count=Count("id", filter=OUTSTANDING),
        overdue_minor=Sum("balance_minor", filter=overdue),
        overdue_count=Count("id", filter=overdue),
        disputed_minor=Sum("balance_minor", filter=disputed),
        disputed_count=Count("id", filter=disputed),
    ).order_by():
        _add(figures, row)
    month_start, year_start = today.replace(day=1), date(today.year, 1, 1)
    this_year = Q(received_on__gte=year_start, received_on__lte=today)
    money_in = (
        Payment.objects.filter(this_year | Q(unapplied_minor__gt=0))
        .values("currency")
        .annotate(
            unapplied_minor=Sum("unapplied_minor"),
            paid_month_minor=Sum(
                "amount_minor", filter=Q(received_on__gte=month_start, received_on__lte=today)
            ),
            paid_year_minor=Sum("amount_minor", filter=this_year),
        )
        .order_by()
    )
    for row in money_in:
        _add(figures, dict(row))
    return [CurrencyFigures(currency=c, **figures[c]) for c in sorted(figures)]


# The overview shows the clients owing most in each currency, with a link to the whole
# table (`queries.aging`): drawing every client's row (465 at 200 clients, ~1,000 money
# figures) was most of the page's time (bench/RESULTS.md).
OVERVIEW_AGING_ROWS = 10


def aging_rows(as_of: date, client_ids: list[int] | None = None) -> list[AgingRow]:
    """Each client's balance by days past due in each currency as it stood at the end of
    `as_of` (every client's, or those of `client_ids`): the portal's aging
    (tally.payments.aging) for many clients at once; by currency, then most owed first."""
    # Summed here rather than by the database: a GROUP BY over the balances would work
    # out each invoice's payments and credits twice (in the filter and in the sum).
    owed = owed_at_end_of(as_of)
    if client_ids is not None:
        owed = owed.filter(client_id__in=client_ids)
    sums: dict[tuple[int, str, str], dict[str, list[int]]] = defaultdict(dict)
    for client_id, name, currency, bucket, minor in owed.annotate(
        bucket=bucket_expression(as_of)
    ).values_list("client_id", "client__name", "currency", "bucket", "owed_minor"):
        total = sums[(client_id, name, currency)].setdefault(bucket, [0, 0])
        total[0] += minor
        total[1] += 1
    rows = [
        AgingRow(
            client_id,
            name,
            currency,
            _in_order({b: AgingCell(b, minor, n) for b, (minor, n) in by_bucket.items()}),
        )
        for (client_id, name, currency), by_bucket in sums.items()
    ]
    # Equal balances: the later client first, as the aging's pages order them.
    rows.sort(key=lambda r: (r.currency, -r.balance_minor, -(r.client_id or 0)))
    return rows


def totals_of(currency: str, rows: list[AgingRow]) -> AgingRow:
    """Every client's row of a currency summed: the table's foot."""
    return AgingRow(
        None,
        "All clients",
        currency,
        [
            AgingCell(
                key,
                sum(r.cells[i].balance_minor for r in rows),
                sum(r.cells[i].invoice_count for r in rows),
            )
            for i, (key, *_) in enumerate(AGING_BUCKETS)
        ],
    )


def aging_by_client(as_of: date, per_currency: int | None = None) -> AgingTable:
    """Every client's aging at the end of `as_of`, summed per currency, with the rows of
    the `per_currency` clients owing most in each (None: every client's)."""
    rows = aging_rows(as_of)
    totals = []
    clients = {}
    kept: list[AgingRow] = []
    for currency in sorted({r.currency for r in rows}):
        of_currency = [r for r in rows if r.currency == currency]
        clients[currency] = len(of_currency)
        kept.extend(of_currency if per_currency is None else of_currency[:per_currency])
        totals.append(totals_of(currency, of_currency))
    return AgingTable(as_of, kept, totals, clients)


def _in_order(by_bucket: dict[str, AgingCell]) -> list[AgingCell]:
    return [by_bucket.get(key, AgingCell(key, 0, 0)) for key, *_ in AGING_BUCKETS]


def work_queues() -> WorkQueues:
    unrated = unrated_totals()
    notices = waiting_counts()
    return WorkQueues(
        credit_requests=notices[NoticeKind.CREDIT_REQUEST],
        remittances=notices[NoticeKind.REMITTANCE],
        disputes_waiting=waiting_for_us(),
        drafts=Invoice.objects.filter(status=InvoiceStatus.DRAFT).count(),
        reminders=Reminder.objects.filter(status__in=TO_REVIEW).count(),
        unrated_events=unrated.events,
        unrated_clients=unrated.clients,
    )


def overview(today: date) -> Overview:
    return Overview(currencies=currency_figures(today), queues=work_queues())

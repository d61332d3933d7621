"""Every client's issued invoices: the filters a client has on its own (status, dates,
amount, search), plus client, currency and an aging bucket, sorted and paged by keyset.

Set-based: a page is one query whatever its depth, the status and client name come in
it, and a search by event reference finds its invoices before the page, one seek of the
reference index per day for every client at once (`invoicing.queries`)."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Count, Q, Sum

from tally.clients.models import Client
from tally.invoicing.models import Invoice
from tally.invoicing.naming import format_invoice_number
from tally.invoicing.queries import invoices_billing_reference
from tally.invoicing.status import OUTSTANDING, DerivedStatus, InvoiceQuerySet
from tally.money import exponent
from tally.pagination import DateKey, IntKey, KeysetPaginator
from tally.payments.aging import BUCKET_KEYS, bucket_expression, owed_at_end_of

PAGE_SIZE = 50
STATUSES = tuple(s.value for s in DerivedStatus)
STATUS_LABELS = {s.value: str(s.label) for s in DerivedStatus}
# A status filter may also ask for everything still owed, whatever else it is.
FILTER_STATUSES = (*STATUSES, "outstanding")
SORTS = ("issue_date", "due_date", "status", "amount", "balance", "client")


@dataclass(frozen=True)
class InvoiceFilters:
    statuses: tuple[str, ...] = ()
    client_id: int | None = None
    currency: str = ""
    issued_from: date | None = None
    issued_to: date | None = None
    due_from: date | None = None
    due_to: date | None = None
    # In major units: each invoice is compared in its own currency's minor units.
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    aging: str = ""  # an aging bucket's key, as of `as_of`
    as_of: date | None = None
    search: str = ""
    nothing: bool = False  # a filter that matches no invoice (an aging of a day to come)


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    number: str
    client_id: int
    client_name: str
    client_code: str
    issue_date: date
    due_date: date
    status: str
    currency: str
    total_minor: int
    balance_minor: int  # what it owes today, or on the page's `balance_on` day

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class InvoicePage:
    rows: list[InvoiceRow]
    next_cursor: str | None
    prev_cursor: str | None
    sort: str
    descending: bool
    matching: int
    # What the matching invoices still owe, per currency (never summed across them).
    balances: dict[str, int]
    # From an aging figure: the day whose end each balance (and each total) stands at,
    # what the invoice owed then; None: the balances are today's.
    balance_on: date | None = None


# The order of each sort, then the id. Across clients no index leads with these columns;
# a client's invoices number in the dozens a year, so the sort is of thousands of rows.
_SORT_KEYS = {
    "issue_date": DateKey("issue_date"),
    "due_date": DateKey("due_date"),
    "status": IntKey("status_rank", seek=False),
    "amount": IntKey("total_minor"),
    "balance": IntKey("balance_minor"),
    "client": IntKey("client_id"),
}
_PAGES = {
    (sort, descending): KeysetPaginator("console.invoices", [key, IntKey("id")], descending)
    for sort, key in _SORT_KEYS.items()
    for descending in (True, False)
}
_COLUMNS = (
    "id",
    "number",
    "client_id",
    "client__name",
    "client__code",
    "issue_date",
    "due_date",
    "status_rank",
    "currency",
    "total_minor",
    "balance_minor",
)
# An aging figure's invoices: the balance shown, sorted by and summed is what each owed
# at the end of the figure's day (`owed_minor`, payments/aging.py), as the portal's list
# from its aging report shows it.
_BUCKET_SORT_KEYS = _SORT_KEYS | {"balance": IntKey("owed_minor", seek=False)}
_BUCKET_PAGES = {
    (sort, descending): KeysetPaginator("console.aging_bucket", [key, IntKey("id")], descending)
    for sort, key in _BUCKET_SORT_KEYS.items()
    for descending in (True, False)
}
_BUCKET_COLUMNS = (*(c for c in _COLUMNS if c != "balance_minor"), "owed_minor")


def _minor_bound(value: Decimal, currency: str, rounding: str) -> int:
    """A major-unit bound in a currency's minor units, rounded inwards (a bound of 10.5
    JPY admits 11 and up)."""
    return int((value * 10 ** exponent(currency)).to_integral_value(rounding=rounding))


def _amount_condition(f: InvoiceFilters) -> Q | None:
    if f.amount_min is None and f.amount_max is None:
        return None
    currencies = (
        [f.currency]
        if f.currency
        else sorted(set(Client.objects.values_list("currency", flat=True)))
    )
    per_currency = []
    for currency in currencies:
        q = Q(currency=currency)
        if f.amount_min is not None:
            q &= Q(total_minor__gte=_minor_bound(f.amount_min, currency, ROUND_CEILING))
        if f.amount_max is not None:
            q &= Q(total_minor__lte=_minor_bound(f.amount_max, currency, ROUND_FLOOR))
        per_currency.append(q)
    return reduce(or_, per_currency, Q(pk__in=[]))


NUMBER = re.compile(r"(?:INV-?)?0*([0-9]{1,18})", re.IGNORECASE)


def _filtered(f: InvoiceFilters, today: date) -> InvoiceQuerySet:
    qs: InvoiceQuerySet = Invoice.objects.issued()
    if f.aging in BUCKET_KEYS:
        # What the aging report counts in the bucket: owed at the end of the day, by the
        # due date's distance from it (payments/aging.py, the one definition).
        as_of = f.as_of or today
        qs = (
            owed_at_end_of(as_of, f.client_id)
            .annotate(aging_bucket=bucket_expression(as_of))
            .filter(aging_bucket=f.aging)
        )
    if f.nothing:
        qs = qs.none()
    if f.client_id is not None:
        qs = qs.filter(client_id=f.client_id)
    if f.currency:
        qs = qs.filter(currency=f.currency)
    if f.statuses:
        wanted = [
            OUTSTANDING if s == "outstanding" else qs.status_condition(s, today)
            for s in f.statuses
            if s in FILTER_STATUSES
        ]
        qs = qs.filter(reduce(or_, wanted)) if wanted else qs.none()
    if f.issued_from:
        qs = qs.filter(issue_date__gte=f.issued_from)
    if f.issued_to:
        qs = qs.filter(issue_date__lte=f.issued_to)
    if f.due_from:
        qs = qs.filter(due_date__gte=f.due_from)
    if f.due_to:
        qs = qs.filter(due_date__lte=f.due_to)
    amount = _amount_condition(f)
    if amount is not None:
        qs = qs.filter(amount)
    term = f.search.strip()
    if term:
        number = NUMBER.fullmatch(term)
        by_number = Q(number=int(number.group(1))) if number else Q(pk__in=[])
        if number and term[:3].upper() == "INV":
            # Spelled as an invoice number: no event reference to seek for (the search
            # over every client's days is the costly part, bench/RESULTS.md).
            qs = qs.filter(by_number)
        else:
            by_reference = Q(pk__in=invoices_billing_reference(term, f.client_id))
            qs = qs.filter(by_number | by_reference)
    return qs.with_status(today)


def invoice_page(
    today: date,
    filters: InvoiceFilters = InvoiceFilters(),
    sort: str = "issue_date",
    descending: bool = True,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> InvoicePage:
    """One page of every client's invoices: one query for the rows at any depth, and one
    for how many match and what they owe per currency."""
    sort = sort if sort in SORTS else "issue_date"
    by_bucket = filters.aging in BUCKET_KEYS
    pages = (_BUCKET_PAGES if by_bucket else _PAGES)[sort, descending]
    balance = "owed_minor" if by_bucket else "balance_minor"
    qs = _filtered(filters, today)
    page = pages.paginate(
        qs, pages.decode(cursor), limit, _BUCKET_COLUMNS if by_bucket else _COLUMNS
    )
    totals = (
        qs.order_by()
        .values("currency")
        .annotate(n=Count("id"), owed=Sum(balance))
        .values_list("currency", "n", "owed")
    )
    balances = {}
    matching = 0
    for currency, n, owed in sorted(totals):
        matching += n
        balances[currency] = owed or 0
    rows = [_row(v) for v in page.results]
    balance_on = (filters.as_of or today) if by_bucket else None
    return InvoicePage(rows, page.next, page.prev, sort, descending, matching, balances, balance_on)


def _row(v: dict[str, Any]) -> InvoiceRow:
    return InvoiceRow(
        id=v["id"],
        number=format_invoice_number(v["number"]),
        client_id=v["client_id"],
        client_name=v["client__name"],
        client_code=v["client__code"],
        issue_date=v["issue_date"],
        due_date=v["due_date"],
        status=DerivedStatus.ranked(v["status_rank"]).value,
        currency=v["currency"],
        total_minor=v["total_minor"],
        balance_minor=v["owed_minor"] if "owed_minor" in v else v["balance_minor"],
    )


def client_choices() -> list[tuple[int, str]]:
    """Every client, by name, for the client filter."""
    return list(Client.objects.order_by("name", "id").values_list("id", "name"))


def currency_choices() -> list[str]:
    return sorted(set(Client.objects.values_list("currency", flat=True)))

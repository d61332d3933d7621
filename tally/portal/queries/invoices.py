"""The invoice table: filters, sorts and keyset pages, and every row for the CSV."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import reduce
from operator import or_

from django.db.models import Count, Q, Sum

from tally.invoicing.models import CreditNote
from tally.invoicing.naming import spelled_invoice_number
from tally.invoicing.queries import ReferenceMatch
from tally.invoicing.status import OUTSTANDING, InvoiceQuerySet
from tally.pagination import DateKey, IntKey, KeysetPaginator
from tally.payments.aging import BUCKET_KEYS, bucket_expression, owed_at_end_of
from tally.payments.models import Allocation, Payment

from ..scope import client_scope
from .common import (
    _INVOICE_TABLE,
    _ROW_COLUMNS,
    FILTER_STATUSES,
    PAGE_SIZE,
    SORTS,
    InvoiceRow,
    _invoices,
    _row,
    _tables,
)
from .search import _SEARCH_TABLES, ReferenceHit, _reference_hit, _reference_matches


@dataclass(frozen=True)
class InvoiceFilters:
    statuses: tuple[str, ...] = ()
    issued_from: date | None = None
    issued_to: date | None = None
    due_from: date | None = None
    due_to: date | None = None
    amount_min_minor: int | None = None
    amount_max_minor: int | None = None
    search: str = ""
    # An aging bucket's key: the invoices it counted at the end of `as_of`, each with what
    # it owed then as its balance (payments/aging.py, the one definition).
    aging: str = ""
    as_of: date | None = None
    nothing: bool = False  # a filter that matches no invoice (a bucket of a day to come)


@dataclass(frozen=True)
class InvoicePage:
    rows: list[InvoiceRow]
    next_cursor: str | None
    prev_cursor: str | None
    sort: str
    descending: bool
    # When filters narrow the table: how many invoices match, and what they leave unpaid
    # (the stat cards say it for the whole account).
    matching: int | None = None
    matching_balance_minor: int | None = None
    # A search by an event's reference: the first invoice of the page it found by one,
    # at its first such event (the page opens it there).
    reference_hit: ReferenceHit | None = None


def _base(client_id: int, f: InvoiceFilters, today: date) -> InvoiceQuerySet:
    """The client's invoices, or those an aging bucket counted as of its day, annotated
    `owed_minor` (what each owed at the end of that day)."""
    if f.aging not in BUCKET_KEYS:
        return _invoices(client_id, today)
    as_of = f.as_of or today
    return (
        owed_at_end_of(as_of, client_id)
        .annotate(aging_bucket=bucket_expression(as_of))
        .filter(aging_bucket=f.aging)
        .with_status(today)
    )


def _apply_filters(
    qs: InvoiceQuerySet, client_id: int, f: InvoiceFilters, today: date
) -> tuple[InvoiceQuerySet, dict[int, ReferenceMatch]]:
    """The filtered invoices, and those a search found by an event's reference, each
    with its first such event."""
    matches: dict[int, ReferenceMatch] = {}
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
    if f.amount_min_minor is not None:
        qs = qs.filter(total_minor__gte=f.amount_min_minor)
    if f.amount_max_minor is not None:
        qs = qs.filter(total_minor__lte=f.amount_max_minor)
    if f.nothing:
        qs = qs.none()
    term = f.search.strip()
    spelled = spelled_invoice_number(term)
    if spelled is not None:
        # An invoice number, prefix and all: that invoice, not events' references.
        qs = qs.filter(number=spelled)
    elif term:
        digits = term.upper().removeprefix("INV-").lstrip("0")
        by_number = Q(number=int(digits)) if digits.isdigit() and len(digits) < 18 else Q(pk__in=[])
        # A reference of the invoice's events: order number, tracking number, address,
        # location. From the few events with that reference to the ranges that bill them.
        matches = _reference_matches(client_id, term)
        qs = qs.filter(by_number | Q(pk__in=list(matches)))
    return qs, matches


# The order of each sort: its column, then the id. The status is computed: no index to
# seek, so the cursor does not bound it on its own (a second copy would only cost).
_SORT_KEYS = {
    "issue_date": DateKey("issue_date"),
    "due_date": DateKey("due_date"),
    "status": IntKey("status_rank", seek=False),
    "amount": IntKey("total_minor"),
    "balance": IntKey("balance_minor"),
}
_PAGES = {
    (sort, descending): KeysetPaginator("portal.invoices", [key, IntKey("id")], descending)
    for sort, key in _SORT_KEYS.items()
    for descending in (True, False)
}
# An aging bucket's invoices: the balance shown (and sorted by) is what each owed then.
_BUCKET_SORT_KEYS = _SORT_KEYS | {"balance": IntKey("owed_minor", seek=False)}
_BUCKET_PAGES = {
    (sort, descending): KeysetPaginator("portal.aging_bucket", [key, IntKey("id")], descending)
    for sort, key in _BUCKET_SORT_KEYS.items()
    for descending in (True, False)
}
_BUCKET_COLUMNS = (*(c for c in _ROW_COLUMNS if c != "balance_minor"), "owed_minor")
_AGING_TABLES = _tables(Allocation, Payment, CreditNote)


def invoice_page(
    client_id: int,
    today: date,
    filters: InvoiceFilters = InvoiceFilters(),
    sort: str = "issue_date",
    descending: bool = True,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> InvoicePage:
    """One page of the invoice table, keyset-paginated on (sort key, id): page 200 costs
    what page 1 costs."""
    sort = sort if sort in SORTS else "issue_date"
    by_bucket = filters.aging in BUCKET_KEYS
    pages = (_BUCKET_PAGES if by_bucket else _PAGES)[sort, descending]
    balance = "owed_minor" if by_bucket else "balance_minor"
    tables = _INVOICE_TABLE | (_SEARCH_TABLES if filters.search.strip() else frozenset())
    tables |= _AGING_TABLES if by_bucket else frozenset()
    with client_scope(client_id, tables):
        qs, matches = _apply_filters(_base(client_id, filters, today), client_id, filters, today)
        summary = None
        if filters != InvoiceFilters():
            summary = qs.aggregate(n=Count("id"), balance=Sum(balance))
        page = pages.paginate(
            qs, pages.decode(cursor), limit, _BUCKET_COLUMNS if by_bucket else _ROW_COLUMNS
        )
        rows = [_row(v) for v in page.results]
        found = next((matches[r.id] for r in rows if r.id in matches), None)
        hit = _reference_hit(client_id, found) if found else None
    if summary is None:
        return InvoicePage(rows, page.next, page.prev, sort, descending)
    return InvoicePage(
        rows,
        page.next,
        page.prev,
        sort,
        descending,
        summary["n"],
        summary["balance"] or 0,
        hit,
    )


def all_invoice_rows(
    client_id: int,
    today: date,
    filters: InvoiceFilters = InvoiceFilters(),
    sort: str = "issue_date",
    descending: bool = True,
    batch: int = 2000,
) -> Iterator[InvoiceRow]:
    """Every matching invoice (for the CSV download), read a keyset page at a time."""
    cursor = None
    while True:
        page = invoice_page(client_id, today, filters, sort, descending, cursor, limit=batch)
        yield from page.rows
        if not page.next_cursor:
            return
        cursor = page.next_cursor

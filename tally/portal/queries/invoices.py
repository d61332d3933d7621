"""The invoice table: filters, sorts and keyset pages, and every row for the CSV."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import reduce
from operator import or_

from django.db.models import Count, Q, Sum

from tally.invoicing.status import OUTSTANDING, InvoiceQuerySet
from tally.pagination import DateKey, IntKey, KeysetPaginator

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
)
from .search import _SEARCH_TABLES, _invoices_billing_reference


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
    invoice_ids: tuple[int, ...] | None = None  # e.g. the invoices of an aging bucket


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


def _apply_filters(
    qs: InvoiceQuerySet, client_id: int, f: InvoiceFilters, today: date
) -> InvoiceQuerySet:
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
    if f.invoice_ids is not None:
        qs = qs.filter(pk__in=f.invoice_ids)
    term = f.search.strip()
    if term:
        digits = term.upper().removeprefix("INV-").lstrip("0")
        by_number = Q(number=int(digits)) if digits.isdigit() and len(digits) < 18 else Q(pk__in=[])
        # A reference of the invoice's events: order number, tracking number, address,
        # location. From the few events with that reference to the ranges that bill them.
        by_reference = Q(pk__in=_invoices_billing_reference(client_id, term))
        qs = qs.filter(by_number | by_reference)
    return qs


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
    pages = _PAGES[sort, descending]
    tables = _INVOICE_TABLE | (_SEARCH_TABLES if filters.search.strip() else frozenset())
    with client_scope(client_id, tables):
        qs = _apply_filters(_invoices(client_id, today), client_id, filters, today)
        summary = None
        if filters != InvoiceFilters():
            summary = qs.aggregate(n=Count("id"), balance=Sum("balance_minor"))
        page = pages.paginate(qs, pages.decode(cursor), limit, _ROW_COLUMNS)
    rows = [_row(v) for v in page.results]
    if summary is None:
        return InvoicePage(rows, page.next, page.prev, sort, descending)
    return InvoicePage(
        rows, page.next, page.prev, sort, descending, summary["n"], summary["balance"] or 0
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

"""The invoice table: filters, sorts and keyset pages, and every row for the CSV."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Count, Q, Sum

from tally.invoicing.status import OUTSTANDING, InvoiceQuerySet

from ..scope import client_scope
from .common import (
    _INVOICE_TABLE,
    _ROW_COLUMNS,
    FILTER_STATUSES,
    PAGE_SIZE,
    SORTS,
    InvoiceRow,
    _cursor_int,
    _invoices,
    _row,
    decode_cursor,
    encode_cursor,
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


_SORT_FIELDS = {
    "issue_date": "issue_date",
    "due_date": "due_date",
    "status": "status_rank",
    "amount": "total_minor",
    "balance": "balance_minor",
}


def _sort_value(row: dict[str, Any], sort: str) -> Any:
    value = row[_SORT_FIELDS[sort]]
    return value.isoformat() if isinstance(value, date) else value


def _parse_sort_value(value: Any, sort: str) -> Any:
    if sort in ("issue_date", "due_date"):
        return date.fromisoformat(str(value))
    return _cursor_int(value)


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
    key = _SORT_FIELDS[sort]
    position = decode_cursor(cursor)
    backwards = False
    tables = _INVOICE_TABLE | (_SEARCH_TABLES if filters.search.strip() else frozenset())
    with client_scope(client_id, tables):
        qs = _apply_filters(_invoices(client_id, today), client_id, filters, today)
        summary = None
        if filters != InvoiceFilters():
            summary = qs.aggregate(n=Count("id"), balance=Sum("balance_minor"))
        if position and len(position) == 3 and position[0] in ("after", "before"):
            backwards = position[0] == "before"
            try:
                value, last_id = _parse_sort_value(position[1], sort), _cursor_int(position[2])
            except (TypeError, ValueError):
                value, last_id = None, None
            if value is not None:
                forward_desc = descending != backwards
                op = "lt" if forward_desc else "gt"
                after = Q(**{f"{key}__{op}": value}) | Q(**{key: value, f"id__{op}": last_id})
                if key != "status_rank":
                    # Implied by `after`; it is there so that the database seeks the index
                    # to the cursor instead of walking up to it. (The status is computed:
                    # no index to seek, and a second copy of it would only cost.)
                    after &= Q(**{f"{key}__{op}e": value})
                qs = qs.filter(after)
        forward_desc = descending != backwards
        order = [f"-{key}", "-id"] if forward_desc else [key, "id"]
        values = list(qs.order_by(*order).values(*_ROW_COLUMNS)[: limit + 1])
    has_more = len(values) > limit
    values = values[:limit]
    if backwards:
        values.reverse()
    rows = [_row(v) for v in values]
    next_cursor = prev_cursor = None
    if values:
        first, last = values[0], values[-1]
        if has_more or backwards:
            next_cursor = encode_cursor(["after", _sort_value(last, sort), last["id"]])
        if position is not None and (not backwards or has_more):
            prev_cursor = encode_cursor(["before", _sort_value(first, sort), first["id"]])
    if summary is None:
        return InvoicePage(rows, next_cursor, prev_cursor, sort, descending)
    return InvoicePage(
        rows, next_cursor, prev_cursor, sort, descending, summary["n"], summary["balance"] or 0
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

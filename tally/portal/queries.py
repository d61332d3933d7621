"""Everything a client user sees, and the only way client-facing code reads data.

Every function takes the client's id (from the signed-in user, never from the request),
runs inside `client_scope` — so the database itself refuses other clients' rows and every
table outside the allow-list — and returns plain read models built from explicit columns.
Nothing here can reach internal notes, users or the audit trail.
"""

import base64
import binascii
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from tally.clients.models import Client
from tally.disputes.models import Dispute, DisputeLine, DisputeMessage, DisputeStatus
from tally.errors import NotFound
from tally.invoicing.models import (
    BilledRange,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    format_invoice_number,
)
from tally.operations.models import Event, EventKind
from tally.payments.models import Allocation, Payment, PaymentMethod
from tally.reminders.models import Reminder

from .scope import client_scope


def _tables(*models: type) -> frozenset[str]:
    """The tables a scope reads, so that on SQLite it exposes only those."""
    return frozenset(m._meta.db_table for m in models)  # type: ignore[attr-defined]


_INVOICE_TABLE = _tables(Invoice, Dispute)
# A client sees the invoices that were issued: never a draft, nor a draft that was voided
# before it was issued (it has no number). The scope applies the same rule (scope.py).
ISSUED = Q(number__isnull=False)
_SEARCH_TABLES = _tables(Event, BilledRange)

# What the client sees as an invoice's status, most pressing first.
STATUSES = ("disputed", "overdue", "partially_paid", "open", "paid", "void")
# What the table can be filtered by: each status, or everything still owed.
FILTER_STATUSES = (*STATUSES, "outstanding")
STATUS_LABELS = {
    "disputed": "Disputed",
    "overdue": "Overdue",
    "partially_paid": "Partially paid",
    "open": "Open",
    "paid": "Paid",
    "void": "Void",
}
KIND_LABELS = {kind.value: str(kind.label) for kind in EventKind}
METHOD_LABELS = {method.value: str(method.label) for method in PaymentMethod}
SORTS = ("issue_date", "due_date", "status", "amount", "balance")
PAGE_SIZE = 25


# -- read models -------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientHeader:
    id: int
    name: str
    code: str
    currency: str
    time_zone: str
    address: str


@dataclass(frozen=True)
class StatCards:
    currency: str
    outstanding_minor: int
    open_count: int
    overdue_minor: int
    overdue_count: int
    paid_ytd_minor: int
    disputed_count: int
    unapplied_credit_minor: int


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    number: str
    issue_date: date
    due_date: date
    status: str
    total_minor: int
    balance_minor: int
    currency: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


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


@dataclass(frozen=True)
class LineRow:
    id: int
    line_type: str
    kind: str
    description: str
    quantity: int
    unit_price_micros: int
    amount_minor: int
    event_count: int
    reason: str


# The columns of a LineRow, as read from the lines table.
_LINE_COLUMNS = (
    "id",
    "line_type",
    "kind",
    "description",
    "quantity",
    "unit_price_micros",
    "amount_minor",
    "event_count",
    "reason",
)


@dataclass(frozen=True)
class AllocationRow:
    payment_id: int
    received_on: date
    method: str
    reference: str
    payer: str
    amount_minor: int


@dataclass(frozen=True)
class CreditNoteRow:
    number: str
    amount_minor: int
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class ReminderRow:
    scheduled_for: date
    offset_days: int
    status: str  # scheduled, paused, sent, skipped, failed, …
    sent_at: datetime | None
    detail: str


@dataclass(frozen=True)
class MessageRow:
    side: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class DisputeView:
    id: int
    status: str
    amount_minor: int | None
    reason: str
    opened_at: datetime
    resolution: str
    resolution_summary: str
    resolved_at: datetime | None
    line_ids: list[int]
    messages: list[MessageRow]


@dataclass(frozen=True)
class InvoiceDetail:
    row: InvoiceRow
    period_start: date
    period_end: date
    subtotal_minor: int
    tax_minor: int
    tax_rate_bp: int
    allocated_minor: int
    credited_minor: int
    void_reason: str
    lines: list[LineRow]
    allocations: list[AllocationRow]
    credit_notes: list[CreditNoteRow]
    reminders: list[ReminderRow]
    disputes: list[DisputeView]

    @property
    def open_dispute(self) -> DisputeView | None:
        return next((d for d in self.disputes if d.status == DisputeStatus.OPEN), None)


@dataclass(frozen=True)
class EventRow:
    id: int
    occurred_at: datetime
    kind: str
    reference: str
    quantity: int
    details: dict[str, Any]


@dataclass(frozen=True)
class EventPage:
    line: LineRow
    invoice_number: str
    rows: list[EventRow]
    next_cursor: str | None
    prev_cursor: str | None


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


# -- cursors -----------------------------------------------------------------------------
def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """A cursor is only a position; a malformed one starts from the beginning."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return values if isinstance(values, list) else None


# -- building blocks ---------------------------------------------------------------------
def _status_expression(today: date) -> Case:
    open_dispute = Exists(Dispute.objects.filter(invoice=OuterRef("pk"), status=DisputeStatus.OPEN))
    return Case(
        When(status=InvoiceStatus.VOID, then=Value(STATUSES.index("void"))),
        When(open_dispute, then=Value(STATUSES.index("disputed"))),
        When(status=InvoiceStatus.PAID, then=Value(STATUSES.index("paid"))),
        When(due_date__lt=today, then=Value(STATUSES.index("overdue"))),
        When(allocated_minor__gt=0, then=Value(STATUSES.index("partially_paid"))),
        When(credited_minor__gt=0, then=Value(STATUSES.index("partially_paid"))),
        default=Value(STATUSES.index("open")),
        output_field=IntegerField(),
    )


def _status_rank(values: dict[str, Any], has_open_dispute: bool, today: date) -> int:
    """`_status_expression` for one invoice already read (tests hold the two together)."""
    if values["status"] == InvoiceStatus.VOID:
        return STATUSES.index("void")
    if has_open_dispute:
        return STATUSES.index("disputed")
    if values["status"] == InvoiceStatus.PAID:
        return STATUSES.index("paid")
    if values["due_date"] is not None and values["due_date"] < today:
        return STATUSES.index("overdue")
    if values["allocated_minor"] > 0 or values["credited_minor"] > 0:
        return STATUSES.index("partially_paid")
    return STATUSES.index("open")


def _status_condition(status: str, today: date) -> Q:
    """Invoices whose `_status_expression` is `status`, as conditions the database can
    match with an index (status, dates) instead of computing the rank of every invoice."""
    disputed = Q(Exists(Dispute.objects.filter(invoice=OuterRef("pk"), status=DisputeStatus.OPEN)))
    not_yet_due = ~Q(due_date__lt=today)
    unsettled = Q(status=InvoiceStatus.OPEN) & ~disputed
    return {
        "void": Q(status=InvoiceStatus.VOID),
        "disputed": ~Q(status=InvoiceStatus.VOID) & disputed,
        "paid": Q(status=InvoiceStatus.PAID) & ~disputed,
        "overdue": unsettled & Q(due_date__lt=today),
        "partially_paid": unsettled
        & not_yet_due
        & (Q(allocated_minor__gt=0) | Q(credited_minor__gt=0)),
        "open": unsettled & not_yet_due & Q(allocated_minor__lte=0, credited_minor__lte=0),
        # Not a status of its own: everything still owed, whatever else it is.
        "outstanding": Q(status=InvoiceStatus.OPEN),
    }[status]


def _invoices(client_id: int, today: date) -> QuerySet:
    return (
        Invoice.objects.filter(client_id=client_id)
        .filter(ISSUED)
        .annotate(status_rank=_status_expression(today))
    )


_ROW_COLUMNS = (
    "id",
    "number",
    "issue_date",
    "due_date",
    "status_rank",
    "total_minor",
    "balance_minor",
    "currency",
)


def _row(values: dict[str, Any]) -> InvoiceRow:
    return InvoiceRow(
        id=values["id"],
        number=format_invoice_number(values["number"]),
        issue_date=values["issue_date"],
        due_date=values["due_date"],
        status=STATUSES[values["status_rank"]],
        total_minor=values["total_minor"],
        balance_minor=values["balance_minor"],
        currency=values["currency"],
    )


def _invoices_billing_reference(client_id: int, term: str) -> list[int]:
    """The client's invoices that bill an event whose reference starts with `term`.

    The reference index is by UTC day first (operations.models: a batch's entries then
    share pages), so this seeks it once for each day of the client's billed span, then
    finds the ranges that bill the few events found. It runs once per search, and the
    page's queries filter by its answer.
    """
    span = BilledRange.objects.filter(client_id=client_id).aggregate(
        first=Min("occurred_from"), last=Max("occurred_to")
    )
    if span["first"] is None:
        return []
    first = span["first"].astimezone(UTC).date()
    days = [
        first + timedelta(days=n)
        for n in range((span["last"].astimezone(UTC).date() - first).days + 1)
    ]
    sqlite = connection.vendor == "sqlite"
    # SQLite allows a build-defined number of parameters per statement (32,766 by default:
    # 89 years of days); a longer span takes more than one statement.
    chunk = len(days)
    if sqlite:
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        chunk = limit - 3
    found: set[int] = set()
    billed_by = (
        "JOIN invoicing_billedrange r ON r.client_id = e.client_id AND r.kind = e.kind "
        "AND r.occurred_from <= e.occurred_at AND r.occurred_to > e.occurred_at "
        "AND r.after_id < e.id AND r.upto_id >= e.id "
        "WHERE e.client_id = %s AND e.reference >= %s AND e.reference < %s"
    )
    # Up to the term followed by the last code point (U+FFFF would miss an emoji after it).
    matching: list[Any] = [client_id, term, term + "\U0010ffff"]
    with connection.cursor() as cursor:
        for start in range(0, len(days), chunk):
            some = days[start : start + chunk]
            if sqlite:
                # The days drive the join (a CROSS JOIN keeps its order): without
                # statistics (nothing runs ANALYZE) SQLite would rather read every event of
                # the client through the block index. (INDEXED BY cannot name an index
                # through the portal scope's views.)
                cursor.execute(
                    f"WITH span(day) AS (VALUES {', '.join(['(%s)'] * len(some))}) "  # noqa: S608 (placeholders only)
                    "SELECT DISTINCT r.invoice_id FROM span CROSS JOIN operations_event e "
                    f"{billed_by} AND e.occurred_on = span.day",
                    [*(d.isoformat() for d in some), *matching],
                )
            else:
                cursor.execute(
                    "SELECT DISTINCT r.invoice_id FROM operations_event e "  # noqa: S608 (constants only)
                    f"{billed_by} AND e.occurred_on = ANY(%s::date[])",
                    [*matching, some],
                )
            found.update(invoice_id for (invoice_id,) in cursor.fetchall())
    return sorted(found)


def _apply_filters(qs: QuerySet, client_id: int, f: InvoiceFilters, today: date) -> QuerySet:
    if f.statuses:
        wanted = [_status_condition(s, today) for s in f.statuses if s in FILTER_STATUSES]
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


_BIGINT = 2**63 - 1


def _cursor_int(value: Any) -> int:
    """A whole number a cursor may hold: what a bigint column stores, or ValueError."""
    if type(value) is not int or not -_BIGINT <= value <= _BIGINT:
        raise ValueError(f"{value!r} is not a cursor position")
    return value


def _parse_sort_value(value: Any, sort: str) -> Any:
    if sort in ("issue_date", "due_date"):
        return date.fromisoformat(str(value))
    return _cursor_int(value)


# -- the client's billing page -----------------------------------------------------------
def client_header(client_id: int) -> ClientHeader:
    with client_scope(client_id, _tables(Client)):
        values = (
            Client.objects.filter(pk=client_id)
            .values("id", "name", "code", "currency", "time_zone", "address")
            .first()
        )
    if values is None:
        raise NotFound("client")
    return ClientHeader(**values)


# The four cards in one statement: the billing page's first read, and the ORM took longer
# to build its three aggregates than the database took to run them. Overdue is the table's
# status (open, past due, no open dispute); disputed counts invoices with an open dispute
# (at most one each, a unique index), the table's "disputed"; paid YTD is money received.
_STAT_CARDS_SQL = """
SELECT
    (SELECT currency FROM clients_client WHERE id = %(client)s),
    o.outstanding, o.open_count, o.overdue, o.overdue_count,
    (SELECT COALESCE(SUM(amount_minor), 0) FROM payments_payment
     WHERE client_id = %(client)s AND received_on >= %(year_start)s AND received_on <= %(today)s),
    (SELECT COUNT(*) FROM disputes_dispute d
     WHERE d.client_id = %(client)s AND d.status = 'open' AND EXISTS (
         SELECT 1 FROM invoicing_invoice i WHERE i.id = d.invoice_id AND i.status NOT IN ('void', 'draft')
     )),
    (SELECT COALESCE(SUM(unapplied_minor), 0) FROM payments_payment WHERE client_id = %(client)s)
FROM (
    SELECT COALESCE(SUM(balance_minor), 0) AS outstanding,
           COUNT(*) AS open_count,
           COALESCE(SUM(balance_minor) FILTER (WHERE overdue), 0) AS overdue,
           COUNT(*) FILTER (WHERE overdue) AS overdue_count
    FROM (
        SELECT i.balance_minor,
               i.due_date < %(today)s AND NOT EXISTS (
                   SELECT 1 FROM disputes_dispute d WHERE d.invoice_id = i.id AND d.status = 'open'
               ) AS overdue
        FROM invoicing_invoice i
        WHERE i.client_id = %(client)s AND i.status = 'open'
    ) open_invoice
) o
"""


def stat_cards(client_id: int, today: date) -> StatCards:
    with client_scope(client_id, _tables(Client, Invoice, Dispute, Payment)):
        with connection.cursor() as cursor:
            cursor.execute(
                _STAT_CARDS_SQL,
                {
                    "client": client_id,
                    "today": connection.ops.adapt_datefield_value(today),
                    "year_start": connection.ops.adapt_datefield_value(date(today.year, 1, 1)),
                },
            )
            row = cursor.fetchone()
    if row is None or row[0] is None:
        raise NotFound("client")
    currency, outstanding, open_count, overdue, overdue_count, paid, disputed, unapplied = row
    return StatCards(
        currency=currency,
        outstanding_minor=int(outstanding),
        open_count=int(open_count),
        overdue_minor=int(overdue),
        overdue_count=int(overdue_count),
        paid_ytd_minor=int(paid),
        disputed_count=int(disputed),
        unapplied_credit_minor=int(unapplied),
    )


def _currency(client_id: int) -> str:
    return Client.objects.filter(pk=client_id).values_list("currency", flat=True).get()


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


# -- one invoice -------------------------------------------------------------------------
_DETAIL_TABLES = _tables(
    Invoice,
    Dispute,
    InvoiceLine,
    Allocation,
    Payment,
    CreditNote,
    Reminder,
    DisputeLine,
    DisputeMessage,
)


def invoice_detail(client_id: int, invoice_id: int, today: date) -> InvoiceDetail:
    with client_scope(client_id, _DETAIL_TABLES):
        # The status is worked out below from the disputes read anyway: building the
        # table's status expression would cost more than this query.
        values = (
            Invoice.objects.filter(client_id=client_id, pk=invoice_id)
            .filter(ISSUED)
            .values(
                *(c for c in _ROW_COLUMNS if c != "status_rank"),
                "status",
                "period_start",
                "period_end",
                "subtotal_minor",
                "tax_minor",
                "tax_rate_bp",
                "allocated_minor",
                "credited_minor",
                "void_reason",
            )
            .first()
        )
        if values is None:
            raise NotFound("invoice")
        lines = [
            LineRow(**v)
            for v in InvoiceLine.objects.filter(client_id=client_id, invoice_id=invoice_id)
            .order_by("position", "id")
            .values(*_LINE_COLUMNS)
        ]
        allocations = [
            AllocationRow(
                payment_id=v["payment_id"],
                received_on=v["payment__received_on"],
                method=v["payment__method"],
                reference=v["payment__reference"],
                payer=v["payment__payer"],
                amount_minor=v["amount_minor"],
            )
            # allocated_minor is the sum of the invoice's (positive) allocations, kept in the
            # same transaction: zero means there are none to read.
            for v in (
                Allocation.objects.filter(client_id=client_id, invoice_id=invoice_id)
                .order_by("payment__received_on", "id")
                .values(
                    "payment_id",
                    "payment__received_on",
                    "payment__method",
                    "payment__reference",
                    "payment__payer",
                    "amount_minor",
                )
                if values["allocated_minor"]
                else ()
            )
        ]
        credit_notes = [
            CreditNoteRow(
                number=f"CN-{v['number']:06d}",
                amount_minor=v["amount_minor"],
                reason=v["reason"],
                created_at=v["created_at"],
            )
            for v in (
                CreditNote.objects.filter(client_id=client_id, invoice_id=invoice_id)
                .order_by("created_at", "id")
                .values("number", "amount_minor", "reason", "created_at")
                if values["credited_minor"]  # likewise the sum of its credit notes
                else ()
            )
        ]
        disputes = _disputes(client_id, invoice_id)
        paused = any(d.status == DisputeStatus.OPEN for d in disputes)
        values["status_rank"] = _status_rank(values, paused, today)
        reminders = [
            ReminderRow(
                scheduled_for=v["scheduled_for"],
                offset_days=v["offset_days"],
                status="paused" if paused and v["status"] == "scheduled" else v["status"],
                sent_at=v["sent_at"],
                detail=v["status_detail"] if v["status"] == "skipped" else "",
            )
            for v in Reminder.objects.filter(client_id=client_id, invoice_id=invoice_id)
            .order_by("scheduled_for", "id")
            .values("scheduled_for", "offset_days", "status", "sent_at", "status_detail")
        ]
    return InvoiceDetail(
        row=_row(values),
        period_start=values["period_start"],
        period_end=values["period_end"],
        subtotal_minor=values["subtotal_minor"],
        tax_minor=values["tax_minor"],
        tax_rate_bp=values["tax_rate_bp"],
        allocated_minor=values["allocated_minor"],
        credited_minor=values["credited_minor"],
        void_reason=values["void_reason"],
        lines=lines,
        allocations=allocations,
        credit_notes=credit_notes,
        reminders=reminders,
        disputes=disputes,
    )


def _disputes(client_id: int, invoice_id: int) -> list[DisputeView]:
    disputes = list(
        Dispute.objects.filter(client_id=client_id, invoice_id=invoice_id)
        .order_by("opened_at", "id")
        .values(
            "id",
            "status",
            "amount_minor",
            "reason",
            "opened_at",
            "resolution",
            "resolution_summary",
            "resolved_at",
        )
    )
    ids = [d["id"] for d in disputes]
    if not ids:
        return []
    lines: dict[int, list[int]] = {i: [] for i in ids}
    for dispute_id, line_id in DisputeLine.objects.filter(
        client_id=client_id, dispute_id__in=ids
    ).values_list("dispute_id", "line_id"):
        lines[dispute_id].append(line_id)
    messages: dict[int, list[MessageRow]] = {i: [] for i in ids}
    for v in (
        DisputeMessage.objects.filter(client_id=client_id, dispute_id__in=ids)
        .order_by("created_at", "id")
        .values("dispute_id", "author_side", "body", "created_at")
    ):
        messages[v["dispute_id"]].append(MessageRow(v["author_side"], v["body"], v["created_at"]))
    return [DisputeView(**d, line_ids=lines[d["id"]], messages=messages[d["id"]]) for d in disputes]


def invoice_id_for_number(client_id: int, number: int) -> int:
    with client_scope(client_id, _tables(Invoice)):
        found = (
            Invoice.objects.filter(client_id=client_id, number=number)
            .filter(ISSUED)
            .values_list("id", flat=True)
            .first()
        )
    if found is None:
        raise NotFound("invoice")
    return found


# -- the events behind a line ------------------------------------------------------------
def line_events(
    client_id: int, line_id: int, cursor: str | None = None, limit: int = 50
) -> EventPage:
    """A line's events in time order, keyset-paginated on (occurred_at, id)."""
    position = decode_cursor(cursor)
    with client_scope(client_id, _tables(InvoiceLine, Invoice, BilledRange, Event)):
        # The line and its ranges in one read: a row per range (one, with no range, for an
        # adjustment).
        found = list(
            InvoiceLine.objects.filter(client_id=client_id, pk=line_id)
            .filter(Exists(Invoice.objects.filter(ISSUED, pk=OuterRef("invoice_id"))))
            .values(*_LINE_COLUMNS, "invoice__number", *_RANGE_COLUMNS)
        )
        if not found:
            raise NotFound("line")
        line = {k: found[0][k] for k in (*_LINE_COLUMNS, "invoice__number")}
        ranges = [
            tuple(row[c] for c in _RANGE_COLUMNS)
            for row in found
            if row["ranges__occurred_from"] is not None
        ]
        backwards = False
        seek: tuple[datetime, int] | None = None
        if position and len(position) == 3 and position[0] in ("after", "before"):
            try:
                at = datetime.fromisoformat(str(position[1]))
                if at.tzinfo is None:  # not a cursor this page wrote
                    raise ValueError(at)
                seek = at.astimezone(UTC), _cursor_int(position[2])
                backwards = position[0] == "before"
            except (TypeError, ValueError, OverflowError):  # 0001-01-01 at +14:00 overflows
                seek, backwards = None, False
        qs = _billed_by(client_id, line["kind"], ranges, seek and seek[0], backwards)
        if seek is not None:
            at, last_id = seek
            op = "lt" if backwards else "gt"
            qs = qs.filter(
                Q(**{f"occurred_at__{op}": at}) | Q(occurred_at=at, **{f"id__{op}": last_id})
            )
        order = ["-occurred_at", "-id"] if backwards else ["occurred_at", "id"]
        values = list(
            qs.order_by(*order).values(
                "id", "occurred_at", "kind", "reference", "quantity", "details"
            )[: limit + 1]
        )
    has_more = len(values) > limit
    values = values[:limit]
    if backwards:
        values.reverse()
    rows = [EventRow(**v) for v in values]
    next_cursor = prev_cursor = None
    if rows:
        if has_more or backwards:
            next_cursor = encode_cursor(["after", rows[-1].occurred_at.isoformat(), rows[-1].id])
        if position is not None and (not backwards or has_more):
            prev_cursor = encode_cursor(["before", rows[0].occurred_at.isoformat(), rows[0].id])
    line_row = LineRow(**{k: line[k] for k in _LINE_COLUMNS})
    return EventPage(
        line_row,
        format_invoice_number(line["invoice__number"] or 0),
        rows,
        next_cursor,
        prev_cursor,
    )


_RANGE_COLUMNS = (
    "ranges__occurred_from",
    "ranges__occurred_to",
    "ranges__after_id",
    "ranges__upto_id",
)


def _billed_by(
    client_id: int,
    kind: str,
    ranges: list[tuple[Any, ...]],
    cursor_at: datetime | None,
    backwards: bool,
) -> QuerySet[Event]:
    """The events a line bills, through its ranges, from a cursor on.

    The query bounds occurred_at once on each side: by the cursor when it lies inside the
    line's span, else by the span of its ranges. The database then seeks the
    (client, kind, occurred_at, id) index straight to the cursor — SQLite, given two lower
    bounds on a column, seeks by one of them and may walk the rest — so page 20,000 of a
    million-event line costs what page 1 costs."""
    if not ranges:
        return Event.objects.none()
    start, end = min(r[0] for r in ranges), max(r[1] for r in ranges)
    bounds = Q(occurred_at__gte=start) if backwards or not cursor_at or cursor_at < start else Q()
    bounds &= Q(occurred_at__lt=end) if not backwards or not cursor_at or cursor_at >= end else Q()
    if cursor_at and not backwards and cursor_at >= start:
        bounds &= Q(occurred_at__gte=cursor_at)
    if cursor_at and backwards and cursor_at < end:
        bounds &= Q(occurred_at__lte=cursor_at)
    if len(ranges) == 1:
        within = Q(id__gt=ranges[0][2], id__lte=ranges[0][3])
    else:
        within = reduce(
            or_,
            (
                Q(occurred_at__gte=first, occurred_at__lt=last, id__gt=after, id__lte=upto)
                for first, last, after, upto in ranges
            ),
        )
    return Event.objects.filter(bounds, within, client_id=client_id, kind=kind)


def all_line_events(client_id: int, line_id: int, batch: int = 5000) -> Iterator[EventRow]:
    """Every event of a line (for the streamed CSV), a keyset page at a time."""
    cursor = None
    while True:
        page = line_events(client_id, line_id, cursor, limit=batch)
        yield from page.rows
        if not page.next_cursor:
            return
        cursor = page.next_cursor


# -- accounts receivable aging -----------------------------------------------------------
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
            .filter(ISSUED)
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


# -- payments received -------------------------------------------------------------------
@dataclass(frozen=True)
class AppliedTo:
    invoice_number: str
    amount_minor: int


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

    @property
    def method_label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)


@dataclass(frozen=True)
class PaymentPage:
    currency: str
    rows: list[PaymentRow]
    count: int  # payments received in the range, on every page
    total_minor: int  # and what they add up to: the "Paid year to date" card for this year
    next_cursor: str | None


def payment_page(
    client_id: int,
    received_from: date | None = None,
    received_to: date | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> PaymentPage:
    """Payments received, newest first, keyset-paginated on (received_on, id), each with
    the invoices it paid: "did you get my payment, and what did you put it against?"."""
    with client_scope(client_id, _tables(Client, Payment, Allocation, Invoice)):
        currency = _currency(client_id)
        qs = Payment.objects.filter(client_id=client_id)
        if received_from is not None:
            qs = qs.filter(received_on__gte=received_from)
        if received_to is not None:
            qs = qs.filter(received_on__lte=received_to)
        summary = qs.aggregate(n=Count("id"), total=Coalesce(Sum("amount_minor"), 0))
        position = decode_cursor(cursor)
        if position and len(position) == 2:
            try:
                day, last_id = date.fromisoformat(str(position[0])), _cursor_int(position[1])
            except (TypeError, ValueError):
                pass
            else:
                qs = qs.filter(
                    Q(received_on__lt=day) | Q(received_on=day, id__lt=last_id),
                    received_on__lte=day,
                )
        values = list(
            qs.order_by("-received_on", "-id").values(
                "id",
                "received_on",
                "method",
                "reference",
                "payer",
                "amount_minor",
                "unapplied_minor",
            )[: limit + 1]
        )
        has_more = len(values) > limit
        values = values[:limit]
        applied: dict[int, list[AppliedTo]] = {v["id"]: [] for v in values}
        for payment_id, number, amount in (
            Allocation.objects.filter(client_id=client_id, payment_id__in=list(applied))
            .order_by("payment_id", "invoice__number")
            .values_list("payment_id", "invoice__number", "amount_minor")
        ):
            if number is not None:  # always: only issued invoices take payments
                applied[payment_id].append(AppliedTo(format_invoice_number(number), amount))
    rows = [PaymentRow(**v, applied_to=applied[v["id"]]) for v in values]
    last = values[-1] if values else None
    return PaymentPage(
        currency=currency,
        rows=rows,
        count=summary["n"],
        total_minor=summary["total"],
        next_cursor=encode_cursor([last["received_on"], last["id"]]) if has_more and last else None,
    )

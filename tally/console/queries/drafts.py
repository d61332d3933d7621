"""Drafts waiting for review: every client's list, and one draft as its client will see
it once issued, with the events behind each line, the rate each line applies and the
change against the client's previous invoice.

Read here for the operator, not through the portal's queries (the client scope would
hide a draft, and the console never imports the portal).
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from tally.audit.models import AuditAction, AuditEvent
from tally.invoicing.models import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
)
from tally.invoicing.naming import format_invoice_number
from tally.operations.models import EventKind
from tally.pagination import DateTimeKey, IntKey, KeysetPaginator
from tally.rating.models import RatePrice

# How many drafts a page of the list shows, and how many events a page of a line.
DRAFTS_LIMIT = 50
EVENTS_LIMIT = 50


@dataclass(frozen=True)
class DraftRow:
    id: int
    client_name: str
    client_code: str
    currency: str
    period_start: date
    period_end: date
    total_minor: int
    lines: int
    created_at: datetime


@dataclass(frozen=True)
class DraftList:
    rows: list[DraftRow]
    total: int  # drafts of every client
    next_cursor: str | None
    prev_cursor: str | None


# Oldest first: the draft that has waited longest is reviewed first.
DRAFT_PAGES = KeysetPaginator("console.drafts", [DateTimeKey("created_at"), IntKey("id")])


def _drafts() -> QuerySet[Invoice]:
    return Invoice.objects.filter(status=InvoiceStatus.DRAFT)


def draft_list(cursor: str | None = None, limit: int = DRAFTS_LIMIT) -> DraftList:
    """Every client's drafts, a keyset page at a time."""
    lines = (
        InvoiceLine.objects.filter(invoice_id=OuterRef("pk"))
        .order_by()
        .values("invoice_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    qs = _drafts().annotate(
        line_count=Coalesce(Subquery(lines), Value(0)),
    )
    page = DRAFT_PAGES.paginate(
        qs,
        DRAFT_PAGES.decode(cursor),
        limit,
        [
            "id",
            "client__name",
            "client__code",
            "currency",
            "period_start",
            "period_end",
            "total_minor",
            "line_count",
            "created_at",
        ],
    )
    rows = [
        DraftRow(
            id=r["id"],
            client_name=r["client__name"],
            client_code=r["client__code"],
            currency=r["currency"],
            period_start=r["period_start"],
            period_end=r["period_end"],
            total_minor=r["total_minor"],
            lines=r["line_count"],
            created_at=r["created_at"],
        )
        for r in page.results
    ]
    return DraftList(rows, _drafts().count(), page.next, page.prev)


@dataclass(frozen=True)
class Rate:
    """The rate card a usage line's unit price comes from."""

    card_name: str
    effective_from: date
    effective_to: date | None  # exclusive; None while it runs on


@dataclass(frozen=True)
class DraftLine:
    id: int
    line_type: str
    kind: str
    description: str
    quantity: int
    unit_price_micros: int
    amount_minor: int
    event_count: int
    reason: str
    rates: list[Rate]  # usually one; a price kept across two cards names both

    @property
    def is_adjustment(self) -> bool:
        return self.line_type == LineKind.ADJUSTMENT


@dataclass(frozen=True)
class Change:
    """One kind of charge on the previous invoice and on this draft."""

    label: str
    quantity_then: int | None  # None: not billed on that invoice
    amount_then_minor: int | None
    quantity_now: int | None
    amount_now_minor: int | None

    @property
    def amount_change_minor(self) -> int:
        return (self.amount_now_minor or 0) - (self.amount_then_minor or 0)


@dataclass(frozen=True)
class Comparison:
    previous_id: int
    previous_number: str
    previous_period_start: date
    previous_period_end: date
    rows: list[Change]
    total_then_minor: int
    total_now_minor: int

    @property
    def total_change_minor(self) -> int:
        return self.total_now_minor - self.total_then_minor


@dataclass(frozen=True)
class DraftPage:
    id: int
    status: str
    number: str | None  # once issued
    client_id: int
    client_name: str
    client_code: str
    currency: str
    period_start: date
    period_end: date
    created_at: datetime
    issue_date: date | None
    due_date: date | None
    issued_at: datetime | None
    voided_at: datetime | None
    void_reason: str
    issued_by: str | None  # who issued or deleted it, from the audit trail
    voided_by: str | None
    tax_rate_bp: int
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    lines: list[DraftLine]
    comparison: Comparison | None  # None: the client's first invoice

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def adjustments(self) -> list[DraftLine]:
        return [line for line in self.lines if line.is_adjustment]


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


def draft_page(invoice_id: int) -> DraftPage | None:
    """A draft (or what became of it: issued, deleted) with everything the review needs;
    None if there is no such invoice."""
    inv = (
        Invoice.objects.filter(pk=invoice_id)
        .values(
            "id",
            "status",
            "number",
            "client_id",
            "client__name",
            "client__code",
            "currency",
            "period_start",
            "period_end",
            "created_at",
            "issue_date",
            "due_date",
            "issued_at",
            "voided_at",
            "void_reason",
            "tax_rate_bp",
            "subtotal_minor",
            "tax_minor",
            "total_minor",
        )
        .first()
    )
    if inv is None:
        return None
    rows = list(InvoiceLine.objects.filter(invoice_id=invoice_id).values(*_LINE_COLUMNS))
    who = _who(invoice_id) if inv["status"] != InvoiceStatus.DRAFT else {}
    rates = _rates(inv["client_id"], inv["period_start"], inv["period_end"], rows)
    lines = [
        DraftLine(**r, rates=rates.get((r["kind"], r["unit_price_micros"]), []))
        if r["line_type"] == LineKind.USAGE
        else DraftLine(**r, rates=[])
        for r in rows
    ]
    return DraftPage(
        id=inv["id"],
        status=inv["status"],
        number=format_invoice_number(inv["number"]) if inv["number"] else None,
        client_id=inv["client_id"],
        client_name=inv["client__name"],
        client_code=inv["client__code"],
        currency=inv["currency"],
        period_start=inv["period_start"],
        period_end=inv["period_end"],
        created_at=inv["created_at"],
        issue_date=inv["issue_date"],
        due_date=inv["due_date"],
        issued_at=inv["issued_at"],
        voided_at=inv["voided_at"],
        void_reason=inv["void_reason"],
        issued_by=who.get(AuditAction.INVOICE_ISSUED),
        voided_by=who.get(AuditAction.INVOICE_VOIDED),
        tax_rate_bp=inv["tax_rate_bp"],
        subtotal_minor=inv["subtotal_minor"],
        tax_minor=inv["tax_minor"],
        total_minor=inv["total_minor"],
        lines=lines,
        comparison=_comparison(dict(inv), lines),
    )


def _who(invoice_id: int) -> dict[str, str]:
    """Who issued and who voided an invoice, by the audit trail's label."""
    return dict(
        AuditEvent.objects.filter(
            object_type="invoicing.invoice",
            object_id=str(invoice_id),
            action__in=[AuditAction.INVOICE_ISSUED, AuditAction.INVOICE_VOIDED],
        )
        .order_by("id")
        .values_list("action", "actor_label")
    )


def _rates(
    client_id: int, start: date, end: date, lines: list[dict[str, Any]]
) -> dict[tuple[str, int], list[Rate]]:
    """The rate cards of the period that price each (kind, unit price) a line bills at."""
    wanted = {(r["kind"], r["unit_price_micros"]) for r in lines if r["line_type"] == "usage"}
    if not wanted:
        return {}
    found: dict[tuple[str, int], list[Rate]] = {}
    for kind, micros, name, first, last in (
        RatePrice.objects.filter(
            rate_card__client_id=client_id,
            rate_card__effective_from__lte=end,
            kind__in={k for k, _ in wanted},
        )
        .filter(Q(rate_card__effective_to__isnull=True) | Q(rate_card__effective_to__gt=start))
        .order_by("rate_card__effective_from")
        .values_list(
            "kind",
            "unit_price_micros",
            "rate_card__name",
            "rate_card__effective_from",
            "rate_card__effective_to",
        )
    ):
        if (kind, micros) in wanted:
            found.setdefault((kind, micros), []).append(Rate(name or "Rate card", first, last))
    return found


def _label(kind: str) -> str:
    return EventKind(kind).label if kind in EventKind.values else kind


def _by_kind(lines: list[tuple[str, str, int, int]]) -> dict[str, tuple[int, int]]:
    """(line type, kind, quantity, amount) rows summed per kind; adjustments as one."""
    sums: dict[str, tuple[int, int]] = {}
    for line_type, kind, quantity, amount in lines:
        key = kind if line_type == LineKind.USAGE else ""
        q, a = sums.get(key, (0, 0))
        sums[key] = (q + quantity, a + amount)
    return sums


def _comparison(inv: dict[str, Any], lines: list[DraftLine]) -> Comparison | None:
    """This draft against the client's last issued, not void, invoice of an earlier period."""
    previous = (
        Invoice.objects.filter(
            client_id=inv["client_id"],
            status__in=[InvoiceStatus.OPEN, InvoiceStatus.PAID],
            period_start__lt=inv["period_start"],
        )
        .order_by("-period_start", "-issue_date", "-id")
        .values("id", "number", "period_start", "period_end", "total_minor")
        .first()
    )
    if previous is None:
        return None
    then = _by_kind(
        list(
            InvoiceLine.objects.filter(invoice_id=previous["id"]).values_list(
                "line_type", "kind", "quantity", "amount_minor"
            )
        )
    )
    now = _by_kind([(x.line_type, x.kind, x.quantity, x.amount_minor) for x in lines])
    kinds = sorted(k for k in then.keys() | now.keys() if k)
    rows = []
    for key in [*kinds, *([""] if "" in then or "" in now else [])]:
        t, n = then.get(key), now.get(key)
        rows.append(
            Change(
                label=_label(key) + "s" if key else "Adjustments",
                quantity_then=t[0] if t and key else None,
                amount_then_minor=t[1] if t else None,
                quantity_now=n[0] if n and key else None,
                amount_now_minor=n[1] if n else None,
            )
        )
    return Comparison(
        previous_id=previous["id"],
        previous_number=format_invoice_number(previous["number"] or 0),
        previous_period_start=previous["period_start"],
        previous_period_end=previous["period_end"],
        rows=rows,
        total_then_minor=previous["total_minor"],
        total_now_minor=inv["total_minor"],
    )

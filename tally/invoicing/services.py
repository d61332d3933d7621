"""Invoice life cycle: generate a draft from events, adjust, issue, credit, void.

Rating is set-based: one UPDATE per rate-card segment assigns a period's unbilled events
to their lines, and the lines are totalled from exactly the events that UPDATE assigned
(on PostgreSQL by the UPDATE itself, through RETURNING; on SQLite, which holds the write
lock for the whole transaction, by one GROUP BY afterwards), so a line's quantity is by
construction the sum of its events' quantities.
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from tally.audit import services as audit
from tally.clients.models import Client
from tally.errors import DomainError, NotFound, Problem
from tally.money import line_amount, price_to_decimal, tax_amount
from tally.operations.models import EventKind
from tally.operations.services import sqlite_bulk_cache
from tally.rating.queries import price_segments

from .models import CreditNote, Invoice, InvoiceLine, InvoiceStatus, LineKind, NumberSequence


@dataclass(frozen=True)
class UnratedEvents:
    kind: str
    events: int
    quantity: int


@dataclass
class GenerationResult:
    invoice: Invoice
    unrated: list[UnratedEvents] = field(default_factory=list)


def local_midnight_utc(day: date, tz_name: str) -> datetime:
    """The instant a client's calendar day starts, in UTC."""
    return datetime.combine(day, time.min, tzinfo=zoneinfo.ZoneInfo(tz_name)).astimezone(
        zoneinfo.ZoneInfo("UTC")
    )


def client_today(client: Client) -> date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(client.time_zone)).date()


def _db_time(value: datetime) -> Any:
    return (
        value
        if connection.vendor == "postgresql"
        else connection.ops.adapt_datetimefield_value(value)
    )


def lock_invoice(client: Client, invoice_id: int) -> Invoice:
    try:
        return Invoice.objects.select_for_update().get(pk=invoice_id, client=client)
    except Invoice.DoesNotExist:
        raise NotFound("invoice") from None


def snapshot(inv: Invoice) -> dict[str, Any]:
    return {
        "status": inv.status,
        "number": inv.number,
        "total_minor": inv.total_minor,
        "allocated_minor": inv.allocated_minor,
        "credited_minor": inv.credited_minor,
    }


def next_number(name: str) -> int:
    """Take the next gapless number. The row lock is held until the caller's commit."""
    NumberSequence.objects.get_or_create(name=name)
    seq = NumberSequence.objects.select_for_update().get(name=name)
    seq.last_value += 1
    seq.save(update_fields=["last_value"])
    return seq.last_value


def recompute_totals(invoice: Invoice) -> None:
    subtotal = sum(invoice.lines.values_list("amount_minor", flat=True))
    invoice.subtotal_minor = subtotal
    invoice.tax_minor = tax_amount(subtotal, invoice.tax_rate_bp) if subtotal > 0 else 0
    invoice.total_minor = invoice.subtotal_minor + invoice.tax_minor
    if invoice.total_minor < 0:
        raise DomainError("negative_total", "an invoice total cannot be below zero")
    invoice.save(update_fields=["subtotal_minor", "tax_minor", "total_minor"])


def _describe(kind: str, micros: int, currency: str) -> str:
    label = EventKind(kind).label if kind in EventKind.values else kind
    return f"{label}s at {price_to_decimal(micros)} {currency}"


def generate_draft_invoice(
    *, actor: Any, client: Client, period_start: date, period_end: date
) -> GenerationResult:
    """Bill a client's unbilled events of a period (dates inclusive, in the client's time zone)."""
    with sqlite_bulk_cache():
        return _generate_draft_invoice(
            actor=actor, client=client, period_start=period_start, period_end=period_end
        )


def _bill_segment(
    cursor: Any, client: Client, start: date, end: date, line_of_kind: dict[str, int]
) -> dict[int, tuple[int, int]]:
    """Point the segment's unbilled events at their lines, in one UPDATE.

    On PostgreSQL the same statement returns each line's quantity and event count (the
    UPDATE's own rows, so nothing written concurrently can slip in between); elsewhere
    the caller totals the lines afterwards. Returns line id → (quantity, events).
    """
    kinds = sorted(line_of_kind)
    cases = " ".join(["WHEN %s THEN %s"] * len(kinds))
    update = (
        f"UPDATE operations_event SET line_id = CASE kind {cases} END "  # noqa: S608 (placeholders only)
        "WHERE client_id = %s AND line_id IS NULL AND occurred_at >= %s AND occurred_at < %s "
        f"AND kind IN ({','.join(['%s'] * len(kinds))})"
    )
    params: list[Any] = [p for kind in kinds for p in (kind, line_of_kind[kind])]
    params += [
        client.pk,
        _db_time(local_midnight_utc(start, client.time_zone)),
        _db_time(local_midnight_utc(end, client.time_zone)),
        *kinds,
    ]
    if connection.vendor != "postgresql":
        cursor.execute(update, params)
        return {}
    cursor.execute(
        f"WITH billed AS ({update} RETURNING line_id, quantity) "  # noqa: S608 (placeholders only)
        "SELECT line_id, SUM(quantity), COUNT(*) FROM billed GROUP BY line_id",
        params,
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in cursor.fetchall()}


@transaction.atomic
def _generate_draft_invoice(
    *, actor: Any, client: Client, period_start: date, period_end: date
) -> GenerationResult:
    if period_end < period_start:
        raise DomainError(
            "invalid_period",
            "the period ends before it starts",
            [Problem("must not be before period_start", field="period_end")],
        )
    client = Client.objects.select_for_update().get(pk=client.pk)
    end_exclusive = period_end + timedelta(days=1)
    invoice = Invoice.objects.create(
        client=client,
        period_start=period_start,
        period_end=period_end,
        currency=client.currency,
        tax_rate_bp=client.tax_rate_bp or 0,
    )
    lines: dict[tuple[str, int], InvoiceLine] = {}
    totals: dict[int, tuple[int, int]] = {}
    with connection.cursor() as cursor:
        for seg in price_segments(client.pk, period_start, end_exclusive):
            if not seg.prices:
                continue
            line_of_kind: dict[str, int] = {}
            for kind, micros in sorted(seg.prices.items()):
                line = lines.get((kind, micros))
                if line is None:
                    line = InvoiceLine.objects.create(
                        client=client,
                        invoice=invoice,
                        kind=kind,
                        description=_describe(kind, micros, client.currency),
                        quantity=0,
                        unit_price_micros=micros,
                        amount_minor=0,
                        position=len(lines) + 1,
                    )
                    lines[(kind, micros)] = line
                line_of_kind[kind] = line.pk
            # Two segments at the same price share a line: add up what each one billed.
            for line_id, (q, n) in _bill_segment(
                cursor, client, seg.start, seg.end, line_of_kind
            ).items():
                q0, n0 = totals.get(line_id, (0, 0))
                totals[line_id] = (q0 + q, n0 + n)
        if lines and connection.vendor != "postgresql":
            ids = [line.pk for line in lines.values()]
            cursor.execute(
                "SELECT line_id, SUM(quantity), COUNT(*) FROM operations_event "  # noqa: S608 (placeholders only)
                f"WHERE line_id IN ({','.join(['%s'] * len(ids))}) GROUP BY line_id",
                ids,
            )
            totals = {row[0]: (int(row[1]), int(row[2])) for row in cursor.fetchall()}
        cursor.execute(
            "SELECT kind, COUNT(*), SUM(quantity) FROM operations_event "
            "WHERE client_id = %s AND line_id IS NULL AND occurred_at >= %s AND occurred_at < %s "
            "GROUP BY kind ORDER BY kind",
            [
                client.pk,
                _db_time(local_midnight_utc(period_start, client.time_zone)),
                _db_time(local_midnight_utc(end_exclusive, client.time_zone)),
            ],
        )
        unrated = [UnratedEvents(k, int(n), int(q)) for k, n, q in cursor.fetchall()]

    empty = []
    position = 0
    for line in lines.values():
        quantity, count = totals.get(line.pk, (0, 0))
        if count == 0:
            empty.append(line.pk)
            continue
        position += 1
        line.quantity, line.event_count, line.position = quantity, count, position
        line.amount_minor = line_amount(quantity, line.unit_price_micros, client.currency)
        line.save(update_fields=["quantity", "event_count", "amount_minor", "position"])
    InvoiceLine.objects.filter(pk__in=empty).delete()
    recompute_totals(invoice)
    audit.record(
        actor=actor,
        action="invoice.generated",
        obj=invoice,
        after={
            "period_start": period_start,
            "period_end": period_end,
            "lines": position,
            "total_minor": invoice.total_minor,
            "unrated": [u.__dict__ for u in unrated],
        },
    )
    return GenerationResult(invoice, unrated)


@transaction.atomic
def add_adjustment(
    *, actor: Any, client: Client, invoice_id: int, description: str, amount_minor: int, reason: str
) -> InvoiceLine:
    """A manual charge (positive) or discount (negative) on a draft, with its reason."""
    invoice = lock_invoice(client, invoice_id)
    problems = []
    if invoice.status != InvoiceStatus.DRAFT:
        raise DomainError("invoice_not_draft", "only a draft invoice can be adjusted")
    if not description.strip():
        problems.append(Problem("is required", field="description"))
    if not reason.strip():
        problems.append(Problem("is required", field="reason"))
    if amount_minor == 0:
        problems.append(Problem("must not be zero", field="amount"))
    if problems:
        raise DomainError("invalid_adjustment", "the adjustment was not added", problems)
    position = invoice.lines.count() + 1
    line = InvoiceLine.objects.create(
        client=client,
        invoice=invoice,
        line_type=LineKind.ADJUSTMENT,
        description=description.strip(),
        quantity=1,
        unit_price_micros=0,
        amount_minor=amount_minor,
        reason=reason.strip(),
        position=position,
    )
    before = snapshot(invoice)
    try:
        with transaction.atomic():
            recompute_totals(invoice)
    except DomainError:
        raise DomainError(
            "negative_total",
            "the discount is larger than the invoice",
            [Problem("would make the invoice total negative", field="amount")],
        ) from None
    audit.record(
        actor=actor,
        action="invoice.adjusted",
        obj=invoice,
        before=before,
        after={
            **snapshot(invoice),
            "line_id": line.pk,
            "amount_minor": amount_minor,
            "reason": reason,
        },
    )
    return line


def mark_paid_if_settled(invoice: Invoice) -> None:
    invoice.refresh_from_db(fields=["balance_minor"])
    if invoice.status == InvoiceStatus.OPEN and invoice.balance_minor == 0:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = timezone.now()
        invoice.save(update_fields=["status", "paid_at"])
        from tally.reminders.services import skip_pending_reminders

        skip_pending_reminders(invoice, "invoice paid")


@transaction.atomic
def issue_invoice(
    *, actor: Any, client: Client, invoice_id: int, issue_date: date | None = None
) -> Invoice:
    """Give a draft its number, dates and reminder schedule; from now the client sees it."""
    from tally.reminders.services import schedule_reminders

    invoice = lock_invoice(client, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise DomainError("invoice_not_draft", f"invoice is {invoice.status}, not a draft")
    before = snapshot(invoice)
    invoice.issue_date = issue_date or client_today(client)
    invoice.due_date = invoice.issue_date + timedelta(days=client.payment_terms_days)
    invoice.number = next_number("invoice")
    invoice.status = InvoiceStatus.OPEN
    invoice.issued_at = timezone.now()
    invoice.save(update_fields=["issue_date", "due_date", "number", "status", "issued_at"])
    mark_paid_if_settled(invoice)
    schedule_reminders(invoice)
    audit.record(
        actor=actor,
        action="invoice.issued",
        obj=invoice,
        before=before,
        after={**snapshot(invoice), "issue_date": invoice.issue_date, "due_date": invoice.due_date},
    )
    return invoice


@transaction.atomic
def void_invoice(*, actor: Any, client: Client, invoice_id: int, reason: str) -> Invoice:
    """Cancel a draft or an unpaid invoice; its events become billable again."""
    from tally.disputes.models import Dispute, DisputeStatus
    from tally.reminders.services import skip_pending_reminders

    invoice = lock_invoice(client, invoice_id)
    if not reason.strip():
        raise DomainError(
            "invalid_void", "a reason is required", [Problem("is required", field="reason")]
        )
    if invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN):
        raise DomainError("invoice_not_voidable", f"a {invoice.status} invoice cannot be voided")
    if invoice.allocated_minor or invoice.credited_minor:
        raise DomainError(
            "invoice_has_payments", "payments or credits are applied; reverse them before voiding"
        )
    if Dispute.objects.filter(invoice=invoice, status=DisputeStatus.OPEN).exists():
        raise DomainError("invoice_disputed", "resolve the open dispute before voiding")
    before = snapshot(invoice)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE operations_event SET line_id = NULL WHERE client_id = %s AND line_id IN "
            "(SELECT id FROM invoicing_invoiceline WHERE invoice_id = %s)",
            [client.pk, invoice.pk],
        )
        released = cursor.rowcount
    invoice.status = InvoiceStatus.VOID
    invoice.void_reason = reason.strip()
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "void_reason", "voided_at"])
    skip_pending_reminders(invoice, "invoice voided")
    audit.record(
        actor=actor,
        action="invoice.voided",
        obj=invoice,
        before=before,
        after={**snapshot(invoice), "reason": reason, "events_released": released},
    )
    return invoice


@transaction.atomic
def create_credit_note(
    *, actor: Any, client: Client, invoice_id: int, amount_minor: int, reason: str
) -> CreditNote:
    """Reduce what an open invoice owes, with a reason the client will read."""
    invoice = lock_invoice(client, invoice_id)
    problems = []
    if not reason.strip():
        problems.append(Problem("is required", field="reason"))
    if amount_minor <= 0:
        problems.append(Problem("must be positive", field="amount"))
    if problems:
        raise DomainError("invalid_credit_note", "the credit note was not created", problems)
    if invoice.status != InvoiceStatus.OPEN:
        raise DomainError("invoice_not_open", f"a {invoice.status} invoice cannot be credited")
    if amount_minor > invoice.balance_minor:
        raise DomainError(
            "credit_exceeds_balance",
            f"the credit ({amount_minor}) is larger than the balance ({invoice.balance_minor})",
            [Problem(f"must be at most {invoice.balance_minor} minor units", field="amount")],
        )
    before = snapshot(invoice)
    note = CreditNote.objects.create(
        client=client,
        invoice=invoice,
        number=next_number("credit_note"),
        amount_minor=amount_minor,
        reason=reason.strip(),
        created_by=actor if hasattr(actor, "_meta") else None,
    )
    invoice.credited_minor += amount_minor
    invoice.save(update_fields=["credited_minor"])
    mark_paid_if_settled(invoice)
    audit.record(
        actor=actor,
        action="credit_note.created",
        obj=note,
        after={"invoice_id": invoice.pk, "amount_minor": amount_minor, "reason": reason},
    )
    audit.record(
        actor=actor, action="invoice.credited", obj=invoice, before=before, after=snapshot(invoice)
    )
    return note


def generate_period_invoices(
    *, actor: Any, period_start: date, period_end: date
) -> list[GenerationResult]:
    """Generate drafts for every client with unbilled events, one transaction per client."""
    from tally.operations.models import Event

    start = period_start
    results = []
    for client in Client.objects.order_by("id"):
        has_unbilled = Event.objects.filter(
            client=client,
            line__isnull=True,
            occurred_at__gte=local_midnight_utc(start, client.time_zone),
            occurred_at__lt=local_midnight_utc(period_end + timedelta(days=1), client.time_zone),
        ).exists()
        if has_unbilled:
            results.append(
                generate_draft_invoice(
                    actor=actor, client=client, period_start=period_start, period_end=period_end
                )
            )
    return results

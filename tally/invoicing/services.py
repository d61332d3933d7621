"""Invoice life cycle: generate a draft from events, adjust, credit, mark paid.

Issuing and voiding reach reminders, payments and disputes, so they are actions
(`tally.actions.invoices`), as is a credit note once it may stop reminders.

Rating only reads. A line bills blocks of events (`BilledRange`: one kind, a span of
time, a span of ids under the watermark), and is totalled by one index-only aggregate
per block, so a line's quantity is by construction the sum of its events' quantities and
no event row is written when it is billed or when its invoice is voided.
"""

import time as clock
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from tally import jobs
from tally.accounts.models import User
from tally.audit import services as audit
from tally.audit.actors import Actor, SystemActor
from tally.audit.models import AuditAction
from tally.clients.models import Client
from tally.db.sqlite import bigger_cache
from tally.errors import DomainError, NotFound, Problem
from tally.money import line_amount, price_to_decimal, tax_amount
from tally.operations.models import EventKind
from tally.rating.queries import price_segments

from .models import (
    ACTIVE_RUN_STATUSES,
    BilledRange,
    BillingRun,
    BillingRunClient,
    BillingRunStatus,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    NumberSequence,
)
from .queries import live_ranges


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


ProgressCallback = Callable[[int], None]
"""Told how many of the period's events have been counted so far, between reads."""


def generate_draft_invoice(
    *,
    actor: Actor,
    client: Client,
    period_start: date,
    period_end: date,
    on_progress: ProgressCallback | None = None,
) -> GenerationResult:
    """Bill a client's unbilled events of a period (dates inclusive, in the client's time zone).

    With `on_progress`, the events are counted first, outside the transaction that writes
    the draft and in slices of time, telling it after each slice (`_count_ahead`)."""
    with bigger_cache():
        ahead = _count_ahead(client, period_start, period_end, on_progress) if on_progress else None
        return _generate_draft_invoice(
            actor=actor,
            client=client,
            period_start=period_start,
            period_end=period_end,
            ahead=ahead,
        )


@dataclass(frozen=True)
class Block:
    """Events occurring in [start, end) with an id in (after, upto]."""

    start: datetime
    end: datetime
    after: int
    upto: int


def _unbilled_blocks(
    start: datetime, end: datetime, watermark: int, billed: list[Block]
) -> list[Block]:
    """What of [start, end) × (0, watermark] the billed blocks leave free, as blocks.

    Usually nothing touches the period and this is the whole of it. After a void and
    a re-bill, or late events billed on a later run, the free part is cut at every edge
    of a billed block; neighbouring pieces with the same ids are joined again.
    """
    cuts = sorted({start, end, *(t for b in billed for t in (b.start, b.end) if start < t < end)})
    free: list[Block] = []
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        taken = sorted((b.after, b.upto) for b in billed if b.start <= lo and b.end >= hi)
        at = 0
        gaps = []
        for after, upto in taken:
            if after > at:
                gaps.append((at, min(after, watermark)))
            at = max(at, upto)
        gaps.append((at, watermark))
        for after, upto in gaps:
            if upto <= after:
                continue
            joined = next(
                (i for i, b in enumerate(free) if (b.end, b.after, b.upto) == (lo, after, upto)),
                None,
            )
            if joined is None:
                free.append(Block(lo, hi, after, upto))
            else:
                free[joined] = Block(free[joined].start, hi, after, upto)
    return free


def _price_periods(
    client: Client, start: date, end: date
) -> list[tuple[datetime, datetime, dict[str, int]]]:
    """The period cut by rate card, as UTC instants, with the gaps no card covers."""
    periods: list[tuple[date, date, dict[str, int]]] = []
    at = start
    for seg in price_segments(client.pk, start, end):
        if seg.start > at:
            periods.append((at, seg.start, {}))
        # Rate cards never overlap (create_rate_card refuses it); if rows ever did, the
        # earlier card keeps the overlap, so no span of time is billed twice.
        if max(seg.start, at) < seg.end:
            periods.append((max(seg.start, at), seg.end, seg.prices))
            at = seg.end
    if at < end:
        periods.append((at, end, {}))
    tz = client.time_zone
    return [(local_midnight_utc(a, tz), local_midnight_utc(b, tz), p) for a, b, p in periods]


def _billed_blocks(client: Client, start: datetime, end: datetime) -> dict[str, list[Block]]:
    """The client's blocks on live invoices that touch [start, end), by event kind."""
    blocks: dict[str, list[Block]] = {}
    for kind, first, last, after, upto in (
        live_ranges(client.pk)
        .filter(occurred_from__lt=end, occurred_to__gt=start)
        .values_list("kind", "occurred_from", "occurred_to", "after_id", "upto_id")
    ):
        blocks.setdefault(kind, []).append(Block(first, last, after, upto))
    return blocks


def count_block_events(
    cursor: Any, client: Client, block: Block, kinds: list[str]
) -> dict[str, tuple[int, int]]:
    """Event count and quantity per kind in one block: an index-only range read."""
    cursor.execute(
        "SELECT kind, COUNT(*), SUM(quantity) FROM operations_event "  # noqa: S608 (placeholders only)
        f"WHERE client_id = %s AND kind IN ({','.join(['%s'] * len(kinds))}) "
        "AND occurred_at >= %s AND occurred_at < %s AND id > %s AND id <= %s GROUP BY kind",
        [
            client.pk,
            *kinds,
            _db_time(block.start),
            _db_time(block.end),
            block.after,
            block.upto,
        ],
    )
    return {kind: (int(n), int(q)) for kind, n, q in cursor.fetchall()}


def _reads(
    start: datetime, end: datetime, watermark: int, billed: dict[str, list[Block]]
) -> dict[tuple[Block, ...], tuple[str, ...]]:
    """The blocks to count in [start, end): kinds that nothing has billed yet share their
    blocks, so one read serves them all."""
    reads: dict[tuple[Block, ...], list[str]] = {}
    for kind in sorted(EventKind.values):
        free = _unbilled_blocks(start, end, watermark, billed.get(kind, []))
        reads.setdefault(tuple(free), []).append(kind)
    return {blocks: tuple(kinds) for blocks, kinds in reads.items()}


@dataclass
class PlannedLine:
    """A usage line as rating makes it: one kind at one unit price, and the blocks of
    events it bills."""

    kind: str
    unit_price_micros: int
    description: str
    currency: str
    quantity: int = 0
    event_count: int = 0
    blocks: list[Block] = field(default_factory=list)

    @property
    def amount_minor(self) -> int:
        return line_amount(self.quantity, self.unit_price_micros, self.currency)


@dataclass(frozen=True)
class LinePlan:
    lines: list[PlannedLine]  # in the draft's order
    unrated: list[UnratedEvents]


BlockCounter = Callable[[Block, tuple[str, ...]], dict[str, tuple[int, int]]]
"""Event count and quantity per kind (of those asked for) in one block."""


def plan_lines(
    client: Client, period_start: date, period_end: date, watermark: int, count: BlockCounter
) -> LinePlan:
    """The lines a draft of the period (dates inclusive, the client's days) would bill:
    the period cut by rate card, each piece's unbilled blocks counted by `count`, a line
    per kind and unit price, in the order they are met. The one definition of how events
    become lines: generation writes it (`_generate_draft_invoice`), the portal's estimate
    of the charges to come shows it, counting from the running totals where it can."""
    pieces = (
        (prices, _reads(start, end, watermark, _billed_blocks(client, start, end)))
        for start, end, prices in _price_periods(
            client, period_start, period_end + timedelta(days=1)
        )
    )
    return _price_blocks(client, pieces, count)


def plan_rebilling(
    client: Client,
    period_start: date,
    period_end: date,
    blocks: dict[str, list[Block]],
    count: BlockCounter,
) -> LinePlan:
    """The lines that bill exactly `blocks` (by event kind: what a void invoice billed)
    again, priced by the rate cards as they stand now: each block is cut where a card
    starts or ends, as `plan_lines` cuts the period, and lines are made the same way."""

    def pieces() -> Iterator[tuple[dict[str, int], dict[tuple[Block, ...], tuple[str, ...]]]]:
        for start, end, prices in _price_periods(
            client, period_start, period_end + timedelta(days=1)
        ):
            reads: dict[tuple[Block, ...], list[str]] = {}
            for kind in sorted(blocks):
                inside = tuple(
                    Block(max(b.start, start), min(b.end, end), b.after, b.upto)
                    for b in blocks[kind]
                    if b.start < end and b.end > start
                )
                if inside:
                    reads.setdefault(inside, []).append(kind)
            yield prices, {cut: tuple(kinds) for cut, kinds in reads.items()}

    return _price_blocks(client, pieces(), count)


def _price_blocks(
    client: Client,
    pieces: Iterable[tuple[dict[str, int], dict[tuple[Block, ...], tuple[str, ...]]]],
    count: BlockCounter,
) -> LinePlan:
    """Lines from blocks to count, each piece of the period with its prices: a line per
    kind and unit price, in the order they are met; a kind without a price is unrated."""
    lines: dict[tuple[str, int], PlannedLine] = {}
    unrated: dict[str, tuple[int, int]] = {}
    for prices, reads in pieces:
        for blocks, read_kinds in reads.items():
            for block in blocks:
                for kind, (n, q) in sorted(count(block, read_kinds).items()):
                    if kind not in prices:
                        n0, q0 = unrated.get(kind, (0, 0))
                        unrated[kind] = (n0 + n, q0 + q)
                        continue
                    micros = prices[kind]
                    line = lines.get((kind, micros))
                    if line is None:
                        line = lines[(kind, micros)] = PlannedLine(
                            kind, micros, _describe(kind, micros, client.currency), client.currency
                        )
                    line.quantity += q
                    line.event_count += n
                    line.blocks.append(block)
    return LinePlan(
        list(lines.values()), [UnratedEvents(k, n, q) for k, (n, q) in sorted(unrated.items())]
    )


@dataclass
class _CountedAhead:
    """Counts read before the draft's transaction, under a watermark read under the
    client's lock: every event of the client at or below it was committed then, and
    events never change, so the counts still hold when the draft is written."""

    watermark: int
    counts: dict[tuple[Block, tuple[str, ...]], dict[str, tuple[int, int]]]


# A slice of a block is sized so that one read takes about this long (seconds): progress
# is told between reads, and the console promises it at least every 2 seconds. Each
# slice is sized from the rate of the one before (`next_slice`), so a read stays near the
# target as the load on the machine or the density of the events changes.
SLICE_TARGET = 0.25
_FIRST_SLICE = timedelta(days=1)
_SHORTEST_SLICE = timedelta(minutes=10)
# A slice grows at most this many times over the last: a read of a quiet night or of a
# few events says little about the next days, and a first guess too large is a long gap.
_MOST_GROWTH = 4


def next_slice(planned: timedelta, read: timedelta, took: float) -> timedelta:
    """The span of time the next read should cover, after a read of `read` (the `planned`
    span, or less at the end of a block) that took `took` seconds: the span that reads in
    `SLICE_TARGET` at that rate, at most `_MOST_GROWTH` times the planned one, and never
    under `_SHORTEST_SLICE`."""
    most = planned * _MOST_GROWTH
    if took <= 0:
        return most
    return max(_SHORTEST_SLICE, min(most, read * (SLICE_TARGET / took)))


def _count_ahead(
    client: Client, period_start: date, period_end: date, on_progress: ProgressCallback
) -> _CountedAhead:
    """Count the period's unbilled events, a slice of time at a time, outside any write.

    A slice starts at a day; each next one is sized from the last read's rate
    (`next_slice`): a small client is read in a handful of statements, a huge client's
    busy days in slices of about `SLICE_TARGET` each, however loaded the machine is. The
    watermark is read under the client's lock, as generation reads it; the lock is let
    go at once, so neither ingestion nor (on SQLite) any other writer waits for the
    counting."""
    with transaction.atomic():
        Client.objects.select_for_update().get(pk=client.pk)
        with connection.cursor() as cursor:
            watermark = _watermark(cursor)
    ahead = _CountedAhead(watermark, {})
    counted = 0
    span = _FIRST_SLICE
    with connection.cursor() as cursor:
        for start, end, _prices in _price_periods(
            client, period_start, period_end + timedelta(days=1)
        ):
            billed = _billed_blocks(client, start, end)
            for blocks, kinds in _reads(start, end, watermark, billed).items():
                for block in blocks:
                    totals: dict[str, tuple[int, int]] = {}
                    at = block.start
                    while at < block.end:
                        upto = min(at + span, block.end)
                        began = clock.perf_counter()
                        part = Block(at, upto, block.after, block.upto)
                        for kind, (n, q) in count_block_events(
                            cursor, client, part, list(kinds)
                        ).items():
                            n0, q0 = totals.get(kind, (0, 0))
                            totals[kind] = (n0 + n, q0 + q)
                            counted += n
                        span = next_slice(span, upto - at, clock.perf_counter() - began)
                        at = upto
                        on_progress(counted)
                    ahead.counts[(block, kinds)] = totals
    return ahead


def _watermark(cursor: Any) -> int:
    """The highest stored event id. Read under the client's lock: every event of the
    client with a lower id is committed, and none can arrive later."""
    cursor.execute("SELECT MAX(id) FROM operations_event")
    return int(cursor.fetchone()[0] or 0)


@transaction.atomic
def _generate_draft_invoice(
    *,
    actor: Actor,
    client: Client,
    period_start: date,
    period_end: date,
    ahead: _CountedAhead | None = None,
) -> GenerationResult:
    if period_end < period_start:
        raise DomainError(
            "invalid_period",
            "the period ends before it starts",
            [Problem("must not be before period_start", field="period_end")],
        )
    # Ingestion of this client's events takes the same row lock in share mode, so the
    # watermark below has no gaps that could still fill.
    client = Client.objects.select_for_update().get(pk=client.pk)
    invoice = Invoice.objects.create(
        client=client,
        period_start=period_start,
        period_end=period_end,
        currency=client.currency,
        tax_rate_bp=client.tax_rate_bp or 0,
    )
    with connection.cursor() as cursor:
        # Counted ahead: the same watermark, so the same blocks unless another run billed
        # or a void freed events meanwhile; a block not counted ahead is counted here.
        watermark = ahead.watermark if ahead else _watermark(cursor)

        def count(block: Block, kinds: tuple[str, ...]) -> dict[str, tuple[int, int]]:
            counts = ahead.counts.get((block, kinds)) if ahead else None
            if counts is None:
                counts = count_block_events(cursor, client, block, list(kinds))
            return counts

        plan = plan_lines(client, period_start, period_end, watermark, count)
    lines = _write_lines(invoice, plan)
    unrated_events = plan.unrated
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_GENERATED,
        obj=invoice,
        after={
            "period_start": period_start,
            "period_end": period_end,
            "lines": len(lines),
            "total_minor": invoice.total_minor,
            "watermark": watermark,
            "unrated": [u.__dict__ for u in unrated_events],
        },
    )
    return GenerationResult(invoice, unrated_events)


def _write_lines(invoice: Invoice, plan: LinePlan) -> list[InvoiceLine]:
    """A plan's lines on a new draft, each with the ranges it bills, and the totals."""
    client = invoice.client
    lines: list[InvoiceLine] = []
    ranges: list[BilledRange] = []
    for position, planned in enumerate(plan.lines, start=1):
        line = InvoiceLine.objects.create(
            client=client,
            invoice=invoice,
            kind=planned.kind,
            description=planned.description,
            quantity=planned.quantity,
            unit_price_micros=planned.unit_price_micros,
            amount_minor=planned.amount_minor,
            event_count=planned.event_count,
            position=position,
        )
        lines.append(line)
        ranges += [
            BilledRange(
                client=client,
                invoice=invoice,
                line=line,
                kind=planned.kind,
                occurred_from=block.start,
                occurred_to=block.end,
                after_id=block.after,
                upto_id=block.upto,
            )
            for block in planned.blocks
        ]
    BilledRange.objects.bulk_create(ranges)
    recompute_totals(invoice)
    return lines


@transaction.atomic
def generate_replacement_draft(*, actor: Actor, client: Client, void_id: int) -> GenerationResult:
    """The draft that corrects a void invoice: the same period, billing exactly the
    events the void one billed (its ranges, which voiding freed), priced by the rate
    cards as they stand now — a correction is usually of a rate, so a card fixed since
    the invoice was issued prices the replacement. Events of the period that arrived
    after the void invoice was generated are not on it: they stay unbilled, for the
    period's next run, as they would have been had nothing been voided. Its events that
    have no price today are reported unrated and stay unbilled too. Adjustment lines are
    the caller's (`tally.actions.invoices.void_and_regenerate` carries them over)."""
    void = lock_invoice(client, void_id)
    if void.status != InvoiceStatus.VOID:
        raise DomainError("invoice_not_void", f"invoice is {void.status}: void it first")
    client = Client.objects.select_for_update().get(pk=client.pk)
    blocks: dict[str, list[Block]] = {}
    for kind, first, last, after, upto in BilledRange.objects.filter(
        client=client, invoice=void
    ).values_list("kind", "occurred_from", "occurred_to", "after_id", "upto_id"):
        blocks.setdefault(kind, []).append(Block(first, last, after, upto))
    for kind, mine in blocks.items():
        held = [
            other
            for block in mine
            for other in _billed_blocks(client, block.start, block.end).get(kind, [])
            if other.after < block.upto and block.after < other.upto
        ]
        if held:
            raise DomainError(
                "events_billed_since",
                f"some {kind} events {void.display_number} billed are on another invoice "
                "since it was voided",
            )
    invoice = Invoice.objects.create(
        client=client,
        period_start=void.period_start,
        period_end=void.period_end,
        currency=client.currency,
        tax_rate_bp=client.tax_rate_bp or 0,
    )
    with connection.cursor() as cursor:

        def count(block: Block, kinds: tuple[str, ...]) -> dict[str, tuple[int, int]]:
            return count_block_events(cursor, client, block, list(kinds))

        plan = plan_rebilling(client, void.period_start, void.period_end, blocks, count)
    lines = _write_lines(invoice, plan)
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_GENERATED,
        obj=invoice,
        after={
            "period_start": void.period_start,
            "period_end": void.period_end,
            "lines": len(lines),
            "total_minor": invoice.total_minor,
            "rebills_id": void.pk,
            "events": sum(line.event_count for line in lines),
            "unrated": [u.__dict__ for u in plan.unrated],
        },
    )
    return GenerationResult(invoice, plan.unrated)


@transaction.atomic
def add_adjustment(
    *,
    actor: Actor,
    client: Client,
    invoice_id: int,
    description: str,
    amount_minor: int,
    reason: str,
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
        action=AuditAction.INVOICE_ADJUSTED,
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


@transaction.atomic
def remove_adjustment(*, actor: Actor, client: Client, invoice_id: int, line_id: int) -> None:
    """Take a manual charge or discount off a draft again (its reason stays in the audit
    trail, with the amount)."""
    invoice = lock_invoice(client, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise DomainError("invoice_not_draft", "only a draft invoice can be adjusted")
    line = invoice.lines.filter(pk=line_id, line_type=LineKind.ADJUSTMENT).first()
    if line is None:
        raise NotFound("adjustment")
    before = snapshot(invoice)
    removed = {"line_id": line.pk, "amount_minor": line.amount_minor, "reason": line.reason}
    line.delete()
    try:
        with transaction.atomic():
            recompute_totals(invoice)
    except DomainError:
        raise DomainError(
            "negative_total",
            "without this charge the discounts are larger than the invoice",
            [Problem("remove a discount first: the total would fall below zero", field="line")],
        ) from None
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_ADJUSTMENT_REMOVED,
        obj=invoice,
        before={**before, **removed},
        after=snapshot(invoice),
    )


def reopen_if_owing(invoice: Invoice, actor: Actor) -> bool:
    """Paid → open once something is owed again (a payment taken back from it); whether it
    reopened: the caller then resumes its reminders (`tally.actions.payments`). It is
    overdue again if its due date has passed, as its derived status says."""
    invoice.refresh_from_db(fields=["balance_minor"])
    if invoice.status != InvoiceStatus.PAID or invoice.balance_minor <= 0:
        return False
    paid_at = invoice.paid_at
    invoice.status = InvoiceStatus.OPEN
    invoice.paid_at = None
    invoice.save(update_fields=["status", "paid_at"])
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_REOPENED,
        obj=invoice,
        before={"status": InvoiceStatus.PAID, "paid_at": paid_at},
        after={"status": InvoiceStatus.OPEN, "balance_minor": invoice.balance_minor},
    )
    return True


def mark_paid_if_settled(invoice: Invoice, actor: Actor) -> bool:
    """Open → paid once nothing is owed (after the change that settled it is audited).
    Whether it became paid: the caller then stops its reminders
    (`tally.actions.invoices.settle`)."""
    invoice.refresh_from_db(fields=["balance_minor"])
    if invoice.status != InvoiceStatus.OPEN or invoice.balance_minor != 0:
        return False
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = timezone.now()
    invoice.save(update_fields=["status", "paid_at"])
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_PAID,
        obj=invoice,
        before={"status": InvoiceStatus.OPEN},
        after={"status": InvoiceStatus.PAID, "paid_at": invoice.paid_at},
    )
    return True


@transaction.atomic
def create_credit_note(
    *,
    actor: Actor,
    client: Client,
    invoice_id: int,
    amount_minor: int,
    reason: str,
    lines: Sequence[tuple[int, int]] = (),
) -> CreditNote:
    """Reduce what an open invoice owes, with a reason the client will read; `lines`
    (line id, amount), when the credit is of chosen lines, are recorded with it
    (`CreditNoteLine`) and must add up to `amount_minor`.

    Marks the invoice paid if the credit settles it; `tally.actions.invoices` wraps this
    to stop its reminders too, and is what callers use. A paid invoice can be credited
    only as far as the action has first taken its payments back (credit after payment:
    the money becomes the client's unapplied credit).
    """
    invoice = lock_invoice(client, invoice_id)
    problems = []
    if not reason.strip():
        problems.append(Problem("is required", field="reason"))
    if amount_minor <= 0:
        problems.append(Problem("must be positive", field="amount"))
    if lines:
        on_invoice = dict(
            InvoiceLine.objects.filter(invoice=invoice).values_list("id", "amount_minor")
        )
        for line_id, line_amount in lines:
            if not 0 < line_amount <= on_invoice.get(line_id, 0):
                problems.append(Problem("is not creditable this much", field=f"line_{line_id}"))
        if len({line_id for line_id, _ in lines}) != len(lines):
            problems.append(Problem("a line is named twice", field="lines"))
        if sum(line_amount for _, line_amount in lines) != amount_minor:
            problems.append(Problem("the lines do not add up to the amount", field="amount"))
    if problems:
        raise DomainError("invalid_credit_note", "the credit note was not created", problems)
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
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
        created_by=actor if isinstance(actor, User) else None,
    )
    CreditNoteLine.objects.bulk_create(
        CreditNoteLine(client=client, credit_note=note, line_id=line_id, amount_minor=amount)
        for line_id, amount in lines
    )
    invoice.credited_minor += amount_minor
    invoice.save(update_fields=["credited_minor"])
    after: dict[str, Any] = {
        "invoice_id": invoice.pk,
        "amount_minor": amount_minor,
        "reason": reason,
    }
    if lines:
        after["lines"] = [{"line_id": i, "amount_minor": a} for i, a in lines]
    audit.record(actor=actor, action=AuditAction.CREDIT_NOTE_CREATED, obj=note, after=after)
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_CREDITED,
        obj=invoice,
        before=before,
        after=snapshot(invoice),
    )
    mark_paid_if_settled(invoice, actor)
    return note


class _NothingToBill(Exception):
    def __init__(self, unrated: list[UnratedEvents]) -> None:
        self.unrated = unrated


@dataclass(frozen=True)
class PeriodBilling:
    """A client's part of a period's run: its new draft, or None when nothing of the period
    had a price. Unrated events are reported either way; no empty draft is kept, so running
    a period again adds nothing."""

    client: Client
    invoice: Invoice | None
    unrated: list[UnratedEvents]


def bill_period(
    *,
    actor: Actor,
    client: Client,
    period_start: date,
    period_end: date,
    on_progress: ProgressCallback | None = None,
) -> PeriodBilling:
    """A draft of the client's unbilled events of a period, kept only if it bills something.
    With `on_progress`, counted ahead of the draft's transaction (`generate_draft_invoice`)."""
    with bigger_cache():
        ahead = _count_ahead(client, period_start, period_end, on_progress) if on_progress else None
        return _keep_if_billed(actor, client, period_start, period_end, ahead)


def _keep_if_billed(
    actor: Actor,
    client: Client,
    period_start: date,
    period_end: date,
    ahead: _CountedAhead | None,
) -> PeriodBilling:
    """Generate the draft in a transaction (or savepoint) of its own, and roll it back if
    it has no line."""
    try:
        with transaction.atomic():
            result = _generate_draft_invoice(
                actor=actor,
                client=client,
                period_start=period_start,
                period_end=period_end,
                ahead=ahead,
            )
            if not result.invoice.lines.exists():
                raise _NothingToBill(result.unrated)
    except _NothingToBill as nothing:
        return PeriodBilling(client, None, nothing.unrated)
    return PeriodBilling(client, result.invoice, result.unrated)


def generate_period_invoices(
    *, actor: Actor, period_start: date, period_end: date
) -> list[PeriodBilling]:
    """Bill every client's period, one transaction per client; the clients with nothing to
    bill and nothing unrated are left out."""
    results = []
    for client in Client.objects.order_by("id"):
        billing = bill_period(
            actor=actor, client=client, period_start=period_start, period_end=period_end
        )
        if billing.invoice is not None or billing.unrated:
            results.append(billing)
    return results


# Billing runs: an operator's month-end run, made by the worker client by client.


def month_bounds(month: date) -> tuple[date, date]:
    """A calendar month's first and last day."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _under_way(month: date, run: BillingRun) -> DomainError:
    return DomainError(
        "billing_run_under_way",
        f"a billing run for {month:%B %Y} is already under way (run {run.pk}, started by "
        f"{run.started_by_label})",
        [
            Problem(
                f"already being billed by run {run.pk}, started by {run.started_by_label}: "
                "follow it on its page, and start another once it is done",
                field="month",
            )
        ],
    )


@transaction.atomic
def start_billing_run(
    *, actor: Actor, month: date, client_ids: list[int] | None, today: date
) -> BillingRun:
    """Queue a month's billing run for every client (`client_ids` None) or those chosen,
    and ask the worker for it in the same transaction (`jobs.Job.RUN_BILLING`).

    One run at a time per month: while one is queued or running another is refused, not
    joined — a second operator's different choice of clients would otherwise change what
    the first one asked for unseen. Once it is done, a new run bills whatever the first
    left (late events, clients not chosen): generation bills only what no draft holds.
    A run whose task the worker gave up on is marked failed here and no longer blocks."""
    period_start, period_end = month_bounds(month)
    if period_start > today:
        raise DomainError(
            "month_not_started",
            f"{month:%B %Y} has not started",
            [Problem("must not be after this month", field="month")],
        )
    if client_ids is None:
        clients = list(Client.objects.order_by("id").values_list("id", flat=True))
    else:
        chosen = set(client_ids)
        clients = list(
            Client.objects.filter(pk__in=chosen).order_by("id").values_list("id", flat=True)
        )
        if not chosen:
            raise DomainError(
                "no_clients", "no client chosen", [Problem("choose at least one", field="clients")]
            )
        if len(clients) != len(chosen):
            raise NotFound("client")
    for active in BillingRun.objects.select_for_update().filter(
        period_start=period_start, status__in=ACTIVE_RUN_STATUSES
    ):
        if active.task_id and jobs.given_up(active.task_id):
            _fail(active, "the worker gave up on this run")
        else:
            raise _under_way(month, active)
    user = actor if isinstance(actor, User) else None
    try:
        with transaction.atomic():
            run = BillingRun.objects.create(
                period_start=period_start,
                period_end=period_end,
                all_clients=client_ids is None,
                started_by=user,
                started_by_label=user.email if user is not None else str(actor),
                clients_total=len(clients),
            )
    except IntegrityError:
        # Another operator's run for the month committed while this one waited on the index.
        other = BillingRun.objects.filter(
            period_start=period_start, status__in=ACTIVE_RUN_STATUSES
        ).first()
        if other is None:
            raise
        raise _under_way(month, other) from None
    BillingRunClient.objects.bulk_create(
        BillingRunClient(run=run, client_id=client_id) for client_id in clients
    )
    run.task_id = jobs.request(jobs.Job.RUN_BILLING, run.pk)
    run.save(update_fields=["task_id"])
    audit.record(
        actor=actor,
        action=AuditAction.BILLING_RUN_STARTED,
        obj=run,
        after={
            "period_start": period_start,
            "period_end": period_end,
            "clients": "all" if client_ids is None else clients,
            "clients_total": len(clients),
        },
    )
    return run


# The run's counters are written at most this often (seconds) while a client is counted;
# each client's end writes them too.
PROGRESS_EVERY = 0.5


class _Progress:
    """Writes a run's `events_rated` as a client's events are counted: outside the draft's
    transaction, so the console sees it at once."""

    def __init__(self, run_id: int, base: int) -> None:
        self.run_id = run_id
        self.base = base
        self.written = clock.monotonic()

    def __call__(self, counted: int) -> None:
        now = clock.monotonic()
        if now - self.written < PROGRESS_EVERY:
            return
        BillingRun.objects.filter(pk=self.run_id).update(
            events_rated=self.base + counted, progress_at=timezone.now()
        )
        self.written = now


def _tally_run(run_id: int) -> dict[str, int]:
    """The run's counters, from its clients' rows (so a retry never counts twice)."""
    got = BillingRunClient.objects.filter(run_id=run_id, done=True).aggregate(
        done=Count("id"), events=Sum("events"), drafts=Count("invoice_ref")
    )
    return {
        "clients_done": got["done"],
        "events_rated": got["events"] or 0,
        "drafts": got["drafts"],
    }


def run_billing(run_id: int) -> BillingRun:
    """The worker's part of a run: bill each client not yet done, one transaction per client
    that also marks it done, so a retry or a second worker skips what is done and a client
    is never billed twice by one run. Idempotent: a finished run is left as it is."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        if not run.is_active:
            return run
        if run.status == BillingRunStatus.QUEUED:
            run.status = BillingRunStatus.RUNNING
            run.started_at = run.progress_at = timezone.now()
            run.save(update_fields=["status", "started_at", "progress_at"])
    actor: Actor = run.started_by or SystemActor.WORKER
    pending = (
        BillingRunClient.objects.filter(run=run, done=False).select_related("client").order_by("id")
    )
    for entry in pending:
        _bill_run_client(run, entry, actor)
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        if run.is_active:
            counters = _tally_run(run_id)
            for name, value in counters.items():
                setattr(run, name, value)
            run.status = BillingRunStatus.DONE
            run.finished_at = run.progress_at = timezone.now()
            run.save()
            audit.record(
                actor=actor,
                action=AuditAction.BILLING_RUN_FINISHED,
                obj=run,
                before={"status": BillingRunStatus.RUNNING},
                after={"status": BillingRunStatus.DONE, **counters},
            )
    return run


def _bill_run_client(run: BillingRun, entry: BillingRunClient, actor: Actor) -> None:
    client = entry.client
    progress = _Progress(run.pk, _tally_run(run.pk)["events_rated"])
    with bigger_cache():
        ahead = _count_ahead(client, run.period_start, run.period_end, progress)
        with transaction.atomic():
            entry = BillingRunClient.objects.select_for_update().get(pk=entry.pk)
            if entry.done:
                return  # another worker billed it meanwhile
            try:
                billing = _keep_if_billed(actor, client, run.period_start, run.period_end, ahead)
            except DomainError as refused:
                entry.refused = refused.message
                billing = None
            unrated = billing.unrated if billing else []
            invoice = billing.invoice if billing else None
            billed = (invoice.lines.aggregate(n=Sum("event_count"))["n"] or 0) if invoice else 0
            entry.done = True
            entry.invoice = invoice
            entry.invoice_ref = invoice.pk if invoice else None
            entry.currency = invoice.currency if invoice else client.currency
            entry.total_minor = invoice.total_minor if invoice else None
            entry.events = billed + sum(u.events for u in unrated)
            entry.unrated = [asdict(u) for u in unrated]
            entry.finished_at = timezone.now()
            entry.save()
            BillingRun.objects.filter(pk=run.pk).update(
                **_tally_run(run.pk), progress_at=timezone.now()
            )


@transaction.atomic
def fail_billing_run(run_id: int, error: str) -> None:
    """The worker gave up on the run (its tries are used up): say so, and free the month
    for another run. The clients billed so far keep their drafts."""
    run = BillingRun.objects.select_for_update().get(pk=run_id)
    if run.is_active:
        _fail(run, error)


def _fail(run: BillingRun, error: str) -> None:
    before = run.status
    run.status = BillingRunStatus.FAILED
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    audit.record(
        actor=SystemActor.WORKER,
        action=AuditAction.BILLING_RUN_FAILED,
        obj=run,
        before={"status": before},
        after={"status": BillingRunStatus.FAILED, "error": error},
    )

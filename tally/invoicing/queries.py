"""Reads of the invoicing side: what a line bills, what a credit note credits."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, QuerySet

from tally.operations.models import Event

from .models import BilledRange, CreditNoteLine, InvoiceLine, InvoiceStatus


def billed_events(line: InvoiceLine) -> QuerySet[Event]:
    """The events a line bills, through its ranges (none for an adjustment)."""
    ranges = list(line.ranges.all())
    if not ranges:
        return Event.objects.none()
    return Event.objects.filter(reduce(or_, (r.events_condition() for r in ranges)))


def live_ranges(client_id: int) -> QuerySet[BilledRange]:
    """The client's ranges that count as billed: those of invoices that are not void."""
    return BilledRange.objects.filter(client_id=client_id).exclude(
        invoice__status=InvoiceStatus.VOID
    )


def events_billed_by(
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


@dataclass(frozen=True)
class CreditedLine:
    """What a credit note credits on one line of its invoice."""

    description: str
    amount_minor: int


def credited_lines(client_id: int, note_ids: list[int]) -> dict[int, list[CreditedLine]]:
    """The lines each credit note credits, in the invoice's order (none for a credit by
    amount). The portal calls it inside its client scope, the console for any client."""
    credited: dict[int, list[CreditedLine]] = defaultdict(list)
    if not note_ids:
        return credited
    for note_id, description, amount in (
        CreditNoteLine.objects.filter(client_id=client_id, credit_note_id__in=note_ids)
        .order_by("line__position", "line_id")
        .values_list("credit_note_id", "line__description", "amount_minor")
    ):
        credited[note_id].append(CreditedLine(description, amount))
    return credited

"""Reads of the invoicing side: what a line bills."""

from functools import reduce
from operator import or_

from django.db.models import QuerySet

from tally.operations.models import Event

from .models import BilledRange, InvoiceLine, InvoiceStatus


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

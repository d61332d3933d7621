"""The client's activity and the charges it has run up this month, not yet invoiced.

Both read the running totals of its events per day (`operations.DailyActivity`), never
the events themselves: a client with millions of events costs what a small one costs.
The estimate is the draft a billing run of this month would make now, line by line, by
rating's own definition (`invoicing.services.plan_lines`): the month cut by rate card,
what no live invoice bills yet, a line per kind and unit price. A block of whole days
with no billed range inside is counted from the totals; a block that an earlier draft
cuts (events that arrived after it) is counted from the events, as rating counts it.
Drafts are not the client's to see (the scope hides them), so events on a draft not yet
issued are still "to come" here, which is what they are to the client.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection

from tally.clients.models import Client
from tally.errors import NotFound
from tally.invoicing.models import BilledRange, Invoice
from tally.invoicing.queries import events_billed_by
from tally.invoicing.services import (
    Block,
    LinePlan,
    count_block_events,
    local_midnight_utc,
    month_bounds,
    plan_lines,
)
from tally.money import tax_amount
from tally.operations.models import DailyActivity, Event, EventKind
from tally.rating.models import RateCard, RatePrice

from ..scope import client_scope
from .common import _tables
from .events import _EVENT_COLUMNS, EVENT_PAGES, EventRow

# Every event there is or will be: the estimate's blocks reach past the newest event.
_NO_WATERMARK = 2**63 - 1
KINDS = tuple(kind.value for kind in EventKind)
MONTHS_SHOWN = 12

_SCOPE = _tables(Client, DailyActivity, RateCard, RatePrice, BilledRange, Invoice, Event)


@dataclass(frozen=True)
class Counts:
    """One day's or one month's events, per kind: (events, quantity)."""

    start: date
    by_kind: dict[str, tuple[int, int]]

    def quantity(self, kind: str) -> int:
        return self.by_kind.get(kind, (0, 0))[1]

    def events(self, kind: str) -> int:
        return self.by_kind.get(kind, (0, 0))[0]


@dataclass(frozen=True)
class EstimateLine:
    kind: str
    description: str
    quantity: int
    event_count: int
    unit_price_micros: int
    amount_minor: int

    @property
    def slug(self) -> str:
        """The line in a URL: its kind and unit price, what makes it one line."""
        return f"{self.kind}-{self.unit_price_micros}"


@dataclass(frozen=True)
class Unrated:
    kind: str
    events: int
    quantity: int


@dataclass(frozen=True)
class Estimate:
    period_start: date
    period_end: date
    currency: str
    lines: list[EstimateLine]
    unrated: list[Unrated]
    subtotal_minor: int
    tax_rate_bp: int
    tax_minor: int
    total_minor: int


@dataclass(frozen=True)
class Activity:
    today: date
    days: list[Counts]  # this month, day 1 to today
    months: list[Counts]  # the last twelve months, this one (so far) last
    estimate: Estimate


def _month_starts(today: date) -> list[date]:
    starts = [today.replace(day=1)]
    for _ in range(MONTHS_SHOWN - 1):
        starts.append((starts[-1] - timedelta(days=1)).replace(day=1))
    return starts[::-1]


def _client(client_id: int) -> Client:
    client = (
        Client.objects.filter(pk=client_id)
        .only("id", "currency", "time_zone", "tax_rate_bp")
        .first()
    )
    if client is None:
        raise NotFound("client")
    return client


def _totals(client_id: int, first: date, last: date) -> dict[date, dict[str, tuple[int, int]]]:
    by_day: dict[date, dict[str, tuple[int, int]]] = {}
    for day, kind, n, q in DailyActivity.objects.filter(
        client_id=client_id, day__gte=first, day__lte=last
    ).values_list("day", "kind", "events", "quantity"):
        by_day.setdefault(day, {})[kind] = (n, q)
    return by_day


class _Counter:
    """Counts a block for `plan_lines`: from the running totals when it is whole days of
    every event (no id bound), else from the events, as rating does."""

    def __init__(self, client: Client, by_day: dict[date, dict[str, tuple[int, int]]]):
        self.client = client
        self.by_day = by_day
        self.tz = zoneinfo.ZoneInfo(client.time_zone)

    def _day_at(self, instant: datetime) -> date | None:
        day = instant.astimezone(self.tz).date()
        return day if local_midnight_utc(day, self.client.time_zone) == instant else None

    def __call__(self, block: Block, kinds: tuple[str, ...]) -> dict[str, tuple[int, int]]:
        first, end = self._day_at(block.start), self._day_at(block.end)
        if block.after == 0 and block.upto >= _NO_WATERMARK and first and end:
            counts: dict[str, tuple[int, int]] = {}
            day = first
            while day < end:
                for kind, (n, q) in self.by_day.get(day, {}).items():
                    if kind in kinds:
                        n0, q0 = counts.get(kind, (0, 0))
                        counts[kind] = (n0 + n, q0 + q)
                day += timedelta(days=1)
            return counts
        with connection.cursor() as cursor:
            return count_block_events(cursor, self.client, block, list(kinds))


def _plan(
    client: Client, today: date, by_day: dict[date, dict[str, tuple[int, int]]]
) -> tuple[date, date, LinePlan]:
    start, end = month_bounds(today)
    return start, end, plan_lines(client, start, end, _NO_WATERMARK, _Counter(client, by_day))


def _estimate(client: Client, start: date, end: date, plan: LinePlan) -> Estimate:
    lines = [
        EstimateLine(
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            event_count=line.event_count,
            unit_price_micros=line.unit_price_micros,
            amount_minor=line.amount_minor,
        )
        for line in plan.lines
    ]
    subtotal = sum(line.amount_minor for line in lines)
    rate = client.tax_rate_bp or 0
    tax = tax_amount(subtotal, rate) if subtotal > 0 else 0
    return Estimate(
        period_start=start,
        period_end=end,
        currency=client.currency,
        lines=lines,
        unrated=[Unrated(u.kind, u.events, u.quantity) for u in plan.unrated],
        subtotal_minor=subtotal,
        tax_rate_bp=rate,
        tax_minor=tax,
        total_minor=subtotal + tax,
    )


def activity(client_id: int, today: date) -> Activity:
    """This month's activity by day, the last twelve months' by month, and the charges
    accrued so far this month: one read of the running totals, in the client's scope."""
    months = _month_starts(today)
    month_start, month_end = month_bounds(today)
    with client_scope(client_id, _SCOPE):
        client = _client(client_id)
        by_day = _totals(client_id, months[0], month_end)
        start, end, plan = _plan(client, today, by_day)
    days = [
        Counts(month_start + timedelta(days=i), by_day.get(month_start + timedelta(days=i), {}))
        for i in range((today - month_start).days + 1)
    ]
    by_month: dict[date, dict[str, tuple[int, int]]] = {m: {} for m in months}
    for day, kinds in by_day.items():
        if day > today:
            continue
        into = by_month.setdefault(day.replace(day=1), {})
        for kind, (n, q) in kinds.items():
            n0, q0 = into.get(kind, (0, 0))
            into[kind] = (n0 + n, q0 + q)
    return Activity(
        today=today,
        days=days,
        months=[Counts(m, by_month[m]) for m in months],
        estimate=_estimate(client, start, end, plan),
    )


@dataclass(frozen=True)
class AccruedEventPage:
    line: EstimateLine
    period_start: date
    period_end: date
    currency: str
    rows: list[EventRow]
    next_cursor: str | None
    prev_cursor: str | None


def accrued_line_events(
    client_id: int, today: date, slug: str, cursor: str | None = None, limit: int = 50
) -> AccruedEventPage:
    """The events behind a line of this month's estimate (`EstimateLine.slug`), in time
    order, a keyset page at a time: the portal's line-events paging over the line's
    blocks, as an invoice line's are paged over its ranges."""
    kind, _, price = slug.rpartition("-")
    if kind not in KINDS or not price.isascii() or not price.isdigit():
        raise NotFound("line")
    position = EVENT_PAGES.decode(cursor)
    month_start, month_end = month_bounds(today)
    with client_scope(client_id, _SCOPE):
        client = _client(client_id)
        start, end, plan = _plan(client, today, _totals(client_id, month_start, month_end))
        planned = next(
            (
                line
                for line in plan.lines
                if line.kind == kind and line.unit_price_micros == int(price)
            ),
            None,
        )
        if planned is None:
            raise NotFound("line")
        ranges = [(b.start, b.end, b.after, b.upto) for b in planned.blocks]
        at = position.values[0] if position else None
        qs = events_billed_by(client_id, kind, ranges, at, bool(position and position.backwards))
        page = EVENT_PAGES.paginate(qs, position, limit, _EVENT_COLUMNS)
    line = _estimate(client, start, end, LinePlan([planned], [])).lines[0]
    return AccruedEventPage(
        line=line,
        period_start=start,
        period_end=end,
        currency=client.currency,
        rows=[EventRow(**v) for v in page.results],
        next_cursor=page.next,
        prev_cursor=page.prev,
    )

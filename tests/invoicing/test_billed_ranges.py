"""Lines bill ranges of events: late events, re-billing after a void, overlapping periods."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.actions.invoices import void_invoice
from tally.audit.actors import SystemActor
from tally.invoicing.models import BilledRange
from tally.invoicing.queries import billed_events
from tally.invoicing.services import (
    Block,
    _unbilled_blocks,
    generate_period_invoices,
)
from tally.operations.models import Event
from tests.factories import (
    OCTOBER,
    add_events,
    assert_lines_total_their_events,
    billing_lines,
    generate,
)

T0 = datetime(2026, 10, 1, tzinfo=UTC)


# -- the free part of a period, as blocks -------------------------------------------------
def _hour(n: int) -> datetime:
    return T0 + timedelta(hours=n)


@st.composite
def billed_blocks(draw):
    """Disjoint blocks, as generation would leave them: each new one takes only free space."""
    blocks: list[Block] = []
    for _ in range(draw(st.integers(0, 5))):
        start = draw(st.integers(0, 9))
        end = draw(st.integers(start + 1, 10))
        watermark = draw(st.integers(1, 12))
        blocks += _unbilled_blocks(_hour(start), _hour(end), watermark, blocks)
    return blocks


def _owner(blocks: list[Block], hour: int, event_id: int) -> list[int]:
    at = _hour(hour) + timedelta(minutes=30)
    return [
        i for i, b in enumerate(blocks) if b.start <= at < b.end and b.after < event_id <= b.upto
    ]


@given(
    billed=billed_blocks(),
    start=st.integers(0, 9),
    length=st.integers(1, 10),
    watermark=st.integers(0, 14),
)
def test_free_blocks_are_exactly_what_no_billed_block_holds(billed, start, length, watermark):
    end = min(start + length, 10)
    free = _unbilled_blocks(_hour(start), _hour(end), watermark, billed)
    for hour in range(0, 11):
        for event_id in range(1, 16):
            in_period = start <= hour < end and event_id <= watermark
            held = len(_owner(billed, hour, event_id))
            freed = len(_owner(free, hour, event_id))
            assert held <= 1 and freed <= 1
            assert freed == (1 if in_period and not held else 0), (hour, event_id)


def test_an_untouched_period_is_one_block():
    assert _unbilled_blocks(_hour(0), _hour(5), 40, []) == [Block(_hour(0), _hour(5), 0, 40)]


# -- generation ------------------------------------------------------------------------------
pytestmark = pytest.mark.django_db


def test_a_period_is_one_range_per_line_and_rating_writes_no_event(acme):
    add_events(acme, "pick", 6)
    add_events(acme, "label", 2)
    before = list(Event.objects.order_by("pk").values())
    invoice = generate(acme).invoice
    assert list(Event.objects.order_by("pk").values()) == before
    assert sorted(
        (r.kind, r.after_id, r.upto_id) for r in BilledRange.objects.filter(invoice=invoice)
    ) == [("label", 0, max(e["id"] for e in before)), ("pick", 0, max(e["id"] for e in before))]
    assert_lines_total_their_events()


def test_late_events_are_billed_by_the_next_run_and_only_they(acme):
    add_events(acme, "pick", 4, day=date(2026, 10, 5))
    first = generate(acme).invoice
    add_events(acme, "pick", 3, day=date(2026, 10, 6), quantity=5)  # arrived after the run
    second = generate(acme).invoice
    assert [(ln.quantity, ln.event_count) for ln in first.lines.all()] == [(4, 4)]
    assert [(ln.quantity, ln.event_count) for ln in second.lines.all()] == [(15, 3)]
    assert {e.quantity for e in billed_events(second.lines.get())} == {5}
    assert (
        generate_period_invoices(
            actor=SystemActor.TESTS, period_start=OCTOBER[0], period_end=OCTOBER[1]
        )
        == []
    )
    assert_lines_total_their_events()


def test_after_a_void_the_next_run_bills_its_events_and_the_late_ones_once(acme):
    add_events(acme, "pick", 4, day=date(2026, 10, 5))
    first = generate(acme).invoice
    add_events(acme, "pick", 2, day=date(2026, 10, 7), quantity=3)
    second = generate(acme).invoice  # the two late events
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=first.pk, reason="wrong rate")
    add_events(acme, "pick", 1, day=date(2026, 10, 9), quantity=10)
    third = generate(acme).invoice  # the voided four and the newest one
    assert second.lines.get().quantity == 6
    assert (third.lines.get().quantity, third.lines.get().event_count) == (14, 5)
    assert sum(len(lines) for lines in billing_lines().values()) == 7
    assert_lines_total_their_events()


def test_overlapping_periods_bill_each_event_once(acme):
    for day in (3, 12, 20, 28):
        add_events(acme, "label", 2, day=date(2026, 10, day))
    first_half = generate(acme, (date(2026, 10, 1), date(2026, 10, 15))).invoice
    add_events(acme, "label", 1, day=date(2026, 10, 13))  # late, inside both periods
    rest = generate(acme, (date(2026, 10, 10), date(2026, 10, 31))).invoice
    assert first_half.lines.get().quantity == 4
    assert rest.lines.get().quantity == 5
    assert_lines_total_their_events()


def test_overlapping_rate_card_rows_still_bill_each_event_once(acme):
    """create_rate_card refuses overlaps; rows written around it must not double-bill."""
    from tally.rating.models import RateCard, RatePrice

    card = RateCard.objects.create(
        client=acme, name="stray", effective_from=date(2026, 10, 10), effective_to=None
    )
    RatePrice.objects.create(client=acme, rate_card=card, kind="pick", unit_price_micros=990_000)
    add_events(acme, "pick", 3, day=date(2026, 10, 5))
    add_events(acme, "pick", 2, day=date(2026, 10, 20))
    invoice = generate(acme).invoice
    assert sum(ln.event_count for ln in invoice.lines.all()) == 5
    assert_lines_total_their_events()

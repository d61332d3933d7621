"""The activity page: the client's events per day and month, and the charges accrued so far
this month, which are the draft a billing run would make now."""

from datetime import date

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from tally.accounts.models import Role
from tally.audit.actors import SystemActor
from tally.errors import NotFound
from tally.invoicing.models import InvoiceLine
from tally.portal import queries
from tally.rating.services import create_rate_card
from tests.factories import (
    OCTOBER,
    add_events,
    generate,
    issued_invoice,
    make_client,
    make_user,
    voided_invoice,
)

pytestmark = pytest.mark.django_db
OCT_20 = date(2026, 10, 20)


def _lines(estimate):
    return [
        (
            line.description,
            line.quantity,
            line.event_count,
            line.unit_price_micros,
            line.amount_minor,
        )
        for line in estimate.lines
    ]


def _draft_lines(invoice):
    return [
        (
            line.description,
            line.quantity,
            line.event_count,
            line.unit_price_micros,
            line.amount_minor,
        )
        for line in InvoiceLine.objects.filter(invoice=invoice).order_by("position")
    ]


@pytest.fixture
def busy():
    """A New York client, 8.25 % tax, no storage price, whose rates change on 15 October."""
    client = make_client(
        "busy",
        time_zone="America/New_York",
        tax_rate_bp=825,
        prices={"pick": "0.3500", "label": "0.0450", "stop": "12.5000"},
    )
    create_rate_card(
        actor=SystemActor.TESTS,
        client=client,
        effective_from=date(2026, 10, 15),
        prices={"pick": "0.4000", "label": "0.0450", "stop": "13.0000"},
    )
    add_events(client, "pick", 7, day=date(2026, 10, 3), quantity=3)
    add_events(client, "label", 5, day=date(2026, 10, 4))
    add_events(client, "pick", 4, day=date(2026, 10, 16), quantity=2)
    add_events(client, "stop", 2, day=date(2026, 10, 18))
    add_events(client, "storage_day", 6, day=date(2026, 10, 19), quantity=4)
    add_events(client, "pick", 9, day=date(2026, 9, 30))  # last month: not in the estimate
    return client


def test_the_estimate_is_the_draft_a_billing_run_would_make_now(busy):
    estimate = queries.activity(busy.pk, OCT_20).estimate
    draft = generate(busy, OCTOBER)
    assert _lines(estimate) == _draft_lines(draft.invoice)
    assert [line.description for line in estimate.lines] == [
        "Shipping labels at 0.0450 USD",
        "Picks at 0.3500 USD",
        "Picks at 0.4000 USD",
        "Delivery stops at 13.0000 USD",
    ]
    assert (estimate.subtotal_minor, estimate.tax_minor, estimate.total_minor) == (
        draft.invoice.subtotal_minor,
        draft.invoice.tax_minor,
        draft.invoice.total_minor,
    )
    assert [(u.kind, u.events, u.quantity) for u in estimate.unrated] == [("storage_day", 6, 24)]


def test_events_an_issued_invoice_bills_are_left_out_and_late_ones_counted(acme):
    issued_invoice(acme, picks=10)  # 3 October
    add_events(acme, "pick", 4, day=date(2026, 10, 3))  # arrived after the invoice
    add_events(acme, "label", 3, day=date(2026, 10, 9))
    estimate = queries.activity(acme.pk, OCT_20).estimate
    assert [(line.kind, line.event_count) for line in estimate.lines] == [("label", 3), ("pick", 4)]
    assert _lines(estimate) == _draft_lines(generate(acme, OCTOBER).invoice)


def test_a_voided_invoices_events_are_to_come_again(acme):
    voided_invoice(acme, picks=6)
    estimate = queries.activity(acme.pk, OCT_20).estimate
    assert [(line.kind, line.event_count, line.amount_minor) for line in estimate.lines] == [
        ("pick", 6, 210)
    ]


def test_days_and_months_count_the_clients_own_days(busy, globex):
    add_events(globex, "pick", 50, day=date(2026, 10, 3))
    activity = queries.activity(busy.pk, OCT_20)
    assert [c.start for c in activity.days] == [date(2026, 10, d) for d in range(1, 21)]
    # The factory's events are at 12:00 UTC: 8:00 in New York, the same day.
    by_day = {c.start: c for c in activity.days}
    assert by_day[date(2026, 10, 3)].by_kind == {"pick": (7, 21)}
    assert by_day[date(2026, 10, 16)].quantity("pick") == 8
    assert by_day[date(2026, 10, 19)].quantity("storage_day") == 24
    assert [m.start for m in activity.months][0] == date(2025, 11, 1)
    assert [m.start for m in activity.months][-1] == date(2026, 10, 1)
    months = {m.start: m for m in activity.months}
    assert months[date(2026, 10, 1)].by_kind == {
        "pick": (11, 29),
        "label": (5, 5),
        "stop": (2, 2),
        "storage_day": (6, 24),
    }
    assert months[date(2026, 9, 1)].by_kind == {"pick": (9, 9)}


def test_a_lines_events_page_through_its_blocks_in_time_order(busy):
    estimate = queries.activity(busy.pk, OCT_20).estimate
    late_picks = next(line for line in estimate.lines if line.description == "Picks at 0.4000 USD")
    first = queries.accrued_line_events(busy.pk, OCT_20, late_picks.slug, limit=3)
    assert first.line == late_picks
    assert [row.quantity for row in first.rows] == [2, 2, 2]
    assert first.next_cursor and not first.prev_cursor
    rest = queries.accrued_line_events(busy.pk, OCT_20, late_picks.slug, first.next_cursor, 3)
    assert len(rest.rows) == 1 and rest.rows[0].occurred_at > first.rows[-1].occurred_at
    assert {row.kind for row in first.rows + rest.rows} == {"pick"}


def test_another_clients_line_or_a_made_up_one_is_not_found(busy, globex):
    add_events(globex, "stop", 2, day=date(2026, 10, 5))
    [theirs] = queries.activity(globex.pk, OCT_20).estimate.lines
    with pytest.raises(NotFound):  # Busy has no stop at Globex's price
        queries.accrued_line_events(busy.pk, OCT_20, theirs.slug)
    for slug in ("pick-1", "nothing-350000", "pick-x", "pick-٣٥٠٠٠٠"):
        with pytest.raises(NotFound):
            queries.accrued_line_events(busy.pk, OCT_20, slug)


# The pages, on the real day (the portal's today is the client's own).


@pytest.fixture
def today_events(acme, globex):
    today = timezone.now().date()
    add_events(acme, "pick", 3, day=today, prefix="ACME-TODAY")
    add_events(globex, "label", 2, day=today, prefix="GLOBEX-TODAY")
    browser = HttpClient()
    browser.force_login(make_user(role=Role.CLIENT_USER, client=acme, email="ap@acme.example"))
    return browser


def test_the_page_shows_charts_numbers_and_the_estimate_marked_as_such(today_events):
    html = today_events.get("/activity/").content.decode()
    assert "Estimate — not an invoice." in html
    assert "Picks at 0.3500 USD" in html and "$1.05" in html  # 3 × 0.35
    assert "Shipping labels at" not in html.split("</nav>")[-1]  # Globex's labels
    assert html.count('role="img"') == 8  # a chart per kind, by day and by month
    assert "3 picks in" in html  # the daily pick chart's description
    assert (
        '<a class="line-events-link" href="/activity/charges/pick-350000/events/">3 events' in html
    )


def test_a_lines_events_page_lists_them_with_and_without_htmx(today_events):
    url = "/activity/charges/pick-350000/events/"
    page = today_events.get(url).content.decode()
    assert "REF-ACME-TODAY-0" in page and "REF-ACME-TODAY-2" in page
    assert "GLOBEX" not in page
    assert "Estimate — not an invoice." in page
    partial = today_events.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "REF-ACME-TODAY-1" in partial and "<h1>" not in partial
    assert today_events.get("/activity/charges/label-45000/events/").status_code == 404

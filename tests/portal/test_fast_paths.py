"""The portal's fast paths give the answers the slow ones gave.

Status filters are index-friendly conditions rather than the computed status; cursors seek
the index; scopes expose only the tables they read; aging sums only the invoices that can
have had a balance. Each is checked here against the straightforward computation.
"""

import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import DatabaseError, connection

from tally.actions.invoices import issue_invoice, void_invoice
from tally.audit.actors import SystemActor
from tally.invoicing.models import CreditNote, Invoice, InvoiceStatus
from tally.operations.services import ingest_events
from tally.payments.models import Allocation
from tally.portal import queries
from tally.portal.queries import InvoiceFilters
from tally.portal.scope import ScopeError, client_scope
from tests.factories import generate, issued_invoice

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 20)


def test_each_status_filter_finds_exactly_the_invoices_showing_that_status(acme, every_status):
    everything = queries.invoice_page(acme.pk, TODAY, limit=100).rows
    assert len(everything) == len(every_status.invoices())
    shown = {r.id: r.status for r in everything}
    assert set(shown.values()) == set(queries.STATUSES)
    for status in queries.STATUSES:
        page = queries.invoice_page(acme.pk, TODAY, InvoiceFilters(statuses=(status,)), limit=100)
        assert {r.id for r in page.rows} == {i for i, s in shown.items() if s == status}, status
        assert {r.status for r in page.rows} == {status}
    two = queries.invoice_page(
        acme.pk, TODAY, InvoiceFilters(statuses=("overdue", "disputed")), limit=100
    )
    assert {r.id for r in two.rows} == {i for i, s in shown.items() if s in ("overdue", "disputed")}
    assert queries.invoice_page(acme.pk, TODAY, InvoiceFilters(statuses=("bogus",))).rows == []


@pytest.mark.parametrize("day", [TODAY, date(2026, 9, 1), TODAY + timedelta(days=400)])
def test_the_stat_cards_count_what_the_status_rules_give(acme, every_status, day):
    """The cards are SQL text of their own (one statement, for speed): they agree with the
    invoice model's status rules."""
    cards = queries.stat_cards(acme.pk, day)
    issued = Invoice.objects.filter(client=acme).issued()
    outstanding = list(issued.outstanding().values_list("balance_minor", flat=True))
    overdue = list(issued.status_is("overdue", today=day).values_list("balance_minor", flat=True))
    assert (cards.open_count, cards.outstanding_minor) == (len(outstanding), sum(outstanding))
    assert (cards.overdue_count, cards.overdue_minor) == (len(overdue), sum(overdue))
    assert cards.overdue_count > 0 or day < TODAY
    assert cards.disputed_count == issued.status_is("disputed", today=day).count() == 2


def test_the_drilldown_shows_the_status_the_table_shows(acme, every_status):
    for row in queries.invoice_page(acme.pk, TODAY, limit=100).rows:
        assert queries.invoice_detail(acme.pk, row.id, TODAY).row == row


def test_status_pages_walk_every_match_once(acme, every_status):
    filters = InvoiceFilters(statuses=("overdue", "partially_paid", "open", "paid"))
    full = queries.invoice_page(acme.pk, TODAY, filters, sort="status", limit=100).rows
    walked, cursor = [], None
    while True:
        page = queries.invoice_page(acme.pk, TODAY, filters, sort="status", cursor=cursor, limit=2)
        walked += page.rows
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert [r.id for r in walked] == [r.id for r in full]


def test_event_pages_with_equal_timestamps_walk_every_event_once_both_ways(acme):
    start = datetime(2026, 10, 3, 12, tzinfo=UTC)
    rows = [
        {
            "kind": "pick",
            "occurred_at": (start + timedelta(seconds=i // 4)).isoformat(),  # 4 per second
            "quantity": 1,
            "reference": f"SO-{i}",
            "external_id": f"tie-{i}",
        }
        for i in range(29)
    ]
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    invoice = issued_invoice(acme, picks=0, issue_date=TODAY)  # October's events
    line = invoice.lines.get()
    expected = [e.id for e in queries.line_events(acme.pk, line.pk, limit=100).rows]
    assert len(expected) == 29
    pages, cursor = [], None
    while True:
        page = queries.line_events(acme.pk, line.pk, cursor, limit=3)
        pages.append(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert [e.id for p in pages for e in p.rows] == expected
    back, cursor = [], pages[-1].prev_cursor
    while cursor:
        page = queries.line_events(acme.pk, line.pk, cursor, limit=3)
        back = [e.id for e in page.rows] + back
        cursor = page.prev_cursor
    assert back + [e.id for e in pages[-1].rows] == expected


def _aging_by_hand(client_id, as_of):
    """Every invoice's balance at the end of `as_of`, summed the slow way."""
    balances = {}
    for inv in Invoice.objects.filter(client_id=client_id, issue_date__lte=as_of).exclude(
        status=InvoiceStatus.DRAFT
    ):
        if inv.status == InvoiceStatus.VOID and inv.voided_at.date() <= as_of:
            continue
        paid = sum(
            a.amount_minor
            for a in Allocation.objects.filter(invoice=inv, payment__received_on__lte=as_of)
        )
        credited = sum(
            c.amount_minor
            for c in CreditNote.objects.filter(invoice=inv)
            if c.created_at.date() <= as_of
        )
        if inv.total_minor - paid - credited > 0:
            balances[inv.pk] = inv.total_minor - paid - credited
    return balances


def test_aging_as_of_any_day_matches_summing_every_invoice(acme, every_status):
    for as_of in (
        date(2026, 6, 1),
        date(2026, 6, 19),
        date(2026, 6, 20),
        date(2026, 7, 9),
        date(2026, 9, 14),
        date(2026, 9, 15),
        date(2026, 11, 30),
        date(2026, 12, 9),
        TODAY,
        TODAY + timedelta(days=400),
    ):
        report = queries.aging(acme.pk, as_of)
        found = {i for b in report.buckets for i in b.invoice_ids}
        by_hand = _aging_by_hand(acme.pk, as_of)
        assert found == set(by_hand), as_of
        assert report.total_minor == sum(by_hand.values()), as_of


def test_a_scope_cannot_name_a_table_outside_the_allow_list(acme):
    with pytest.raises(ScopeError), client_scope(acme.pk, ["internal_notes_internalnote"]):
        pass


def test_on_sqlite_a_scope_naming_its_tables_refuses_the_others(acme, every_status):
    if connection.vendor != "sqlite":
        pytest.skip("on PostgreSQL the policies cover every client-visible table")
    with client_scope(acme.pk, ["invoicing_invoice"]), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM invoicing_invoice")
        assert cursor.fetchone() == (len(every_status.invoices()),)
        with pytest.raises(DatabaseError):
            cursor.execute("SELECT count(*) FROM invoicing_creditnote")
        with pytest.raises(DatabaseError):
            cursor.execute("SELECT count(*) FROM main.invoicing_creditnote")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("tx_db")
def test_on_sqlite_a_portal_read_does_not_take_the_write_lock():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    from tests.factories import make_client

    acme = make_client("acme-lock")
    writer = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
    try:
        with client_scope(acme.pk):
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM clients_client")
                assert cursor.fetchone() == (1,)
            writer.execute("BEGIN IMMEDIATE")  # would fail at once if the scope held the lock
            writer.execute("ROLLBACK")
    finally:
        writer.close()


def _walk(client_id, line_id, limit=3):
    pages, cursor = [], None
    while True:
        page = queries.line_events(client_id, line_id, cursor, limit=limit)
        pages.append(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    back, cursor = [e.id for e in pages[-1].rows], pages[-1].prev_cursor
    while cursor:
        page = queries.line_events(client_id, line_id, cursor, limit=limit)
        back = [e.id for e in page.rows] + back
        cursor = page.prev_cursor
    return [e.id for p in pages for e in p.rows], back


def test_a_line_of_several_ranges_pages_through_its_own_events_only(acme):
    """Void, late events and a re-bill leave a line with two ranges, and another line's
    events in between: its pages hold exactly its events, in order, both ways."""
    from tally.invoicing.queries import billed_events

    def events(day, n, prefix):
        ingest_events(
            actor=SystemActor.TESTS,
            client=acme,
            rows=[
                {
                    "kind": "pick",
                    "occurred_at": datetime(2026, 10, day, 9, i, tzinfo=UTC).isoformat(),
                    "quantity": 1,
                    "reference": f"{prefix}-{i}",
                    "external_id": f"{prefix}-{i}",
                }
                for i in range(n)
            ],
        )

    events(5, 4, "early")
    first = generate(acme).invoice  # October
    events(6, 3, "late")
    second = generate(acme).invoice  # bills the late three
    issue_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=second.pk, issue_date=TODAY)
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=first.pk, reason="re-rate")
    events(7, 5, "later")
    third = issued_invoice(acme, picks=0, issue_date=TODAY)  # the voided four and the later five
    line = third.lines.get()
    assert line.ranges.count() == 2
    expected = list(billed_events(line).order_by("occurred_at", "id").values_list("id", flat=True))
    assert len(expected) == 9
    forward, backward = _walk(acme.pk, line.pk)
    assert forward == backward == expected


def test_a_deep_page_bounds_the_time_from_below_once(acme):
    """SQLite seeks an index by one of two lower bounds on a column (not the larger): the
    page after a cursor must bound occurred_at by the cursor alone, or it walks from the
    start of the line."""
    from django.test.utils import CaptureQueriesContext

    issued = issued_invoice(acme, picks=12)
    line = issued.lines.get()
    page = queries.line_events(acme.pk, line.pk, limit=5)
    with CaptureQueriesContext(connection) as ctx:
        deeper = queries.line_events(acme.pk, line.pk, page.next_cursor, limit=5)
    [sql] = [
        q["sql"] for q in ctx.captured_queries if "ORDER BY" in q["sql"] and "reference" in q["sql"]
    ]
    assert sql.count('"occurred_at" >=') == 1 and sql.count('"occurred_at" <') == 1
    assert [e.id for e in deeper.rows][0] > [e.id for e in page.rows][-1]


def test_invoice_pages_cost_the_same_queries_at_any_depth_both_ways_through_ties(acme):
    """Nine invoices of three amounts: the id orders each tie, and every page forward and
    back is the same statements."""
    from django.test.utils import CaptureQueriesContext

    for i in range(9):
        issued_invoice(acme, picks=10 + i % 3, issue_date=date(2026, 6, 1) + timedelta(days=i))
    full = [r.id for r in queries.invoice_page(acme.pk, TODAY, sort="amount", limit=100).rows]
    pages, counts, cursor = [], set(), None
    while True:
        with CaptureQueriesContext(connection) as ran:
            page = queries.invoice_page(acme.pk, TODAY, sort="amount", cursor=cursor, limit=2)
        counts.add(len(ran))
        pages.append([r.id for r in page.rows])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [i for p in pages for i in p] == full and len(pages) == 5
    back, cursor = [], page.prev_cursor
    while cursor is not None:
        with CaptureQueriesContext(connection) as ran:
            page = queries.invoice_page(acme.pk, TODAY, sort="amount", cursor=cursor, limit=2)
        counts.add(len(ran))
        back.insert(0, [r.id for r in page.rows])
        cursor = page.prev_cursor
    assert back == pages[:-1]
    assert len(counts) == 1

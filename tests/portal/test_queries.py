import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.db import connection

from tally.accounts.models import Role
from tally.actions.invoices import create_credit_note, issue_invoice, void_invoice
from tally.audit.actors import SystemActor
from tally.clients.models import Client
from tally.disputes.services import open_dispute, post_dispute_message
from tally.errors import NotFound
from tally.internal_notes.services import add_internal_note
from tally.invoicing.models import Invoice
from tally.invoicing.queries import billed_events
from tally.invoicing.status import DerivedStatus
from tally.operations.services import ingest_events
from tally.portal import queries
from tally.portal.queries import InvoiceFilters
from tests.factories import (
    add_events,
    draft_invoice,
    event_rows,
    issued_invoice,
    make_client,
    make_user,
    pay,
    voided_invoice,
)

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 20)


@dataclass
class Ledger:
    """Acme: one paid, one partly paid and overdue, one disputed, one void; Globex: one open."""

    acme: Client
    globex: Client
    paid: Invoice
    partial: Invoice
    disputed: Invoice
    void: Invoice
    theirs: Invoice


@pytest.fixture
def ledger(acme, globex, operator) -> Ledger:
    paid = issued_invoice(acme, picks=10, issue_date=date(2026, 9, 1))  # 3.50, due 10-01
    partial = issued_invoice(acme, picks=20, issue_date=date(2026, 10, 1))  # 7.00, due 10-31
    disputed = issued_invoice(acme, picks=30, labels=4, issue_date=date(2026, 11, 25))  # due 12-25
    void = voided_invoice(
        acme, picks=5, issue_date=date(2026, 12, 1), reason="Duplicate", actor=operator
    )
    pay(acme, 350, invoice=paid, key="p1", received_on=date(2026, 9, 20))
    pay(
        acme,
        200,
        invoice=partial,
        key="p2",
        received_on=date(2026, 12, 10),
        method="wire",
        reference="W-p2",
    )
    user = make_user(role=Role.CLIENT_USER, client=acme)
    dispute = open_dispute(
        actor=user, client=acme, invoice_id=disputed.pk, reason="Too many picks", amount_minor=100
    )
    post_dispute_message(
        actor=operator, client=acme, dispute_id=dispute.pk, body="Checking the WMS log."
    )
    add_internal_note(
        actor=operator, dispute_id=dispute.pk, body="SECRET: picker P07 double-scanned"
    )
    theirs = issued_invoice(globex, picks=40, issue_date=date(2026, 11, 1))
    return Ledger(
        acme=acme,
        globex=globex,
        paid=paid,
        partial=partial,
        disputed=disputed,
        void=void,
        theirs=theirs,
    )


def test_stat_cards_count_what_the_client_owes(ledger):
    cards = queries.stat_cards(ledger.acme.pk, TODAY)
    disputed_total = ledger.disputed.total_minor
    assert cards.outstanding_minor == 500 + disputed_total
    assert (cards.overdue_minor, cards.overdue_count) == (500, 1)
    assert cards.paid_ytd_minor == 550
    assert cards.disputed_count == 1
    assert cards.currency == "USD"


def test_the_table_shows_issued_invoices_with_client_facing_statuses(ledger):
    rows = queries.invoice_page(ledger.acme.pk, TODAY).rows
    by_id = {r.id: r.status for r in rows}
    assert by_id == {
        ledger.paid.pk: "paid",
        ledger.partial.pk: "overdue",
        ledger.disputed.pk: "disputed",
        ledger.void.pk: "void",
    }
    assert ledger.theirs.pk not in by_id
    status_filtered = queries.invoice_page(
        ledger.acme.pk, TODAY, InvoiceFilters(statuses=("overdue",))
    ).rows
    assert [r.id for r in status_filtered] == [ledger.partial.pk]


def test_filters_by_dates_amount_number_and_event_reference(ledger):
    acme = ledger.acme.pk
    ids = lambda f: {r.id for r in queries.invoice_page(acme, TODAY, f).rows}  # noqa: E731
    assert ids(InvoiceFilters(issued_from=date(2026, 10, 1), issued_to=date(2026, 11, 30))) == {
        ledger.partial.pk,
        ledger.disputed.pk,
    }
    assert ids(InvoiceFilters(due_to=date(2026, 10, 31))) == {
        ledger.paid.pk,
        ledger.partial.pk,
    }
    assert ids(InvoiceFilters(amount_min_minor=700, amount_max_minor=700)) == {ledger.partial.pk}
    number = ledger.disputed.display_number
    assert ids(InvoiceFilters(search=number)) == {ledger.disputed.pk}
    label_ref = billed_events(ledger.disputed.lines.get(kind="label")).first().reference
    assert ids(InvoiceFilters(search=label_ref)) == {ledger.disputed.pk}
    # Another client's reference finds nothing here.
    their_ref = billed_events(ledger.theirs.lines.first()).first().reference
    assert ids(InvoiceFilters(search=their_ref)) == set()


def test_a_reference_search_finds_every_reference_that_starts_with_the_term(acme):
    invoice_of = {}
    refs = ["SO-12", "SO-123", "SO-12Ω", "SO-12\U0001f4e6", "SO-13", "so-12", "SO-1"]
    for month, ref in enumerate(refs, start=1):
        ingest_events(
            actor=SystemActor.TESTS,
            client=acme,
            rows=[{**event_rows("pick", 1, day=date(2026, month, 5))[0], "reference": ref}],
        )
        invoice_of[ref] = issued_invoice(
            acme,
            picks=0,
            period=(date(2026, month, 1), date(2026, month, 28)),
            issue_date=date(2026, month, 28),
        ).pk
    page = queries.invoice_page(acme.pk, TODAY, InvoiceFilters(search="SO-12"), limit=100)
    # A letter beyond U+FFFF after the term (the parcel emoji) is found too.
    assert {r.id for r in page.rows} == {invoice_of[r] for r in refs[:4]}


def test_a_reference_search_finds_events_on_the_first_and_last_instants_of_a_period():
    """The reference index is by UTC day and a search seeks each day of the billed span:
    a period in Chicago time starts and ends at 05:00 or 06:00 UTC, so its first and last
    events fall on UTC days of their own at the span's two ends."""
    chicago = make_client("chicago", time_zone="America/Chicago")
    firsts = {"first": "2026-03-01T00:00:00-06:00", "last": "2026-03-31T23:59:59-05:00"}
    ingest_events(
        actor=SystemActor.TESTS,
        client=chicago,
        rows=[
            {**row, "occurred_at": at, "reference": f"REF-{name}"}
            for row, (name, at) in zip(event_rows("label", 2), firsts.items(), strict=True)
        ],
    )
    draft = draft_invoice(chicago, picks=0, period=(date(2026, 3, 1), date(2026, 3, 31)))
    assert draft.lines.get().quantity == 2
    issued = issue_invoice(
        actor=SystemActor.TESTS, client=chicago, invoice_id=draft.pk, issue_date=TODAY
    )
    for name in firsts:
        page = queries.invoice_page(chicago.pk, TODAY, InvoiceFilters(search=f"REF-{name}"))
        assert [r.id for r in page.rows] == [issued.pk], name


def test_a_reference_search_over_a_century_of_billing_finds_both_ends():
    """A search seeks each day of the billed span: 38,000 days here, more parameters than
    SQLite's default limit allows in one statement (this build's is higher: lowered to the
    default for the test)."""
    if connection.vendor == "sqlite":
        raw = (connection.ensure_connection(), connection.connection)[1]
        previous = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32766)
    acme = make_client("old-timer", rates_from=date(1920, 1, 1))
    invoice_of = {}
    for year in (1920, 2026):
        ingest_events(
            actor=SystemActor.TESTS,
            client=acme,
            rows=[{**event_rows("pick", 1, day=date(year, 1, 5))[0], "reference": f"OLD-{year}"}],
        )
        invoice_of[year] = issued_invoice(
            acme, picks=0, period=(date(year, 1, 1), date(year, 1, 31)), issue_date=date(year, 2, 1)
        ).pk
    try:
        for year, invoice_id in invoice_of.items():
            page = queries.invoice_page(acme.pk, TODAY, InvoiceFilters(search=f"OLD-{year}"))
            assert [r.id for r in page.rows] == [invoice_id]
    finally:
        if connection.vendor == "sqlite":
            raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, previous)


@pytest.mark.parametrize("sort", queries.SORTS)
@pytest.mark.parametrize("descending", [True, False])
def test_keyset_pages_walk_the_whole_table_both_ways(acme, sort, descending):
    for i in range(9):
        issued_invoice(
            acme, picks=1 + (i * 7) % 5, issue_date=date(2026, 6, 1) + timedelta(days=(i * 5) % 20)
        )
    full = queries.invoice_page(acme.pk, TODAY, sort=sort, descending=descending, limit=100).rows
    key = {
        "issue_date": lambda r: r.issue_date,
        "due_date": lambda r: r.due_date,
        "status": lambda r: DerivedStatus(r.status).rank,
        "amount": lambda r: r.total_minor,
        "balance": lambda r: r.balance_minor,
    }[sort]
    assert [key(r) for r in full] == sorted((key(r) for r in full), reverse=descending)
    pages, cursor = [], None
    while True:
        page = queries.invoice_page(
            acme.pk, TODAY, sort=sort, descending=descending, cursor=cursor, limit=4
        )
        pages.append(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert [r.id for p in pages for r in p.rows] == [r.id for r in full]
    assert pages[0].prev_cursor is None
    # Walking back from the last page gives the earlier pages again.
    back = queries.invoice_page(
        acme.pk, TODAY, sort=sort, descending=descending, cursor=pages[-1].prev_cursor, limit=4
    )
    assert [r.id for r in back.rows] == [r.id for r in pages[-2].rows]


def test_the_drilldown_has_lines_payments_credits_reminders_and_the_conversation(ledger, operator):
    acme = ledger.acme
    create_credit_note(
        actor=operator,
        client=acme,
        invoice_id=ledger.partial.pk,
        amount_minor=50,
        reason="Late pickup",
    )
    detail = queries.invoice_detail(acme.pk, ledger.partial.pk, TODAY)
    assert [(ln.kind, ln.quantity, ln.amount_minor) for ln in detail.lines] == [("pick", 20, 700)]
    assert [(a.method, a.reference, a.amount_minor) for a in detail.allocations] == [
        ("wire", "W-p2", 200)
    ]
    assert [(c.amount_minor, c.reason) for c in detail.credit_notes] == [(50, "Late pickup")]
    assert detail.row.balance_minor == 450
    disputed = queries.invoice_detail(acme.pk, ledger.disputed.pk, TODAY)
    assert {r.status for r in disputed.reminders} == {"paused"}
    conversation = [(m.side, m.body) for m in disputed.open_dispute.messages]
    assert conversation == [("client", "Too many picks"), ("operator", "Checking the WMS log.")]
    assert "SECRET" not in repr(disputed)


def test_another_clients_invoice_line_and_events_are_not_found(ledger):
    globex = ledger.globex.pk
    with pytest.raises(NotFound):
        queries.invoice_detail(globex, ledger.paid.pk, TODAY)
    line = ledger.paid.lines.first()
    with pytest.raises(NotFound):
        queries.line_events(globex, line.pk)
    with pytest.raises(NotFound):
        queries.invoice_id_for_number(globex, ledger.paid.number)


def test_drafts_are_not_found_even_by_their_owner(acme, operator):
    draft = draft_invoice(acme, picks=3, actor=operator)
    with pytest.raises(NotFound):
        queries.invoice_detail(acme.pk, draft.pk, TODAY)
    with pytest.raises(NotFound):
        queries.line_events(acme.pk, draft.lines.first().pk)


def test_line_events_page_in_time_order_both_ways(acme):
    invoice = issued_invoice(acme, picks=23)
    line = invoice.lines.get()
    first = queries.line_events(acme.pk, line.pk, limit=10)
    second = queries.line_events(acme.pk, line.pk, first.next_cursor, limit=10)
    third = queries.line_events(acme.pk, line.pk, second.next_cursor, limit=10)
    everything = first.rows + second.rows + third.rows
    assert len(everything) == 23 and third.next_cursor is None
    assert [e.occurred_at for e in everything] == sorted(e.occurred_at for e in everything)
    assert len({e.id for e in everything}) == 23
    back = queries.line_events(acme.pk, line.pk, third.prev_cursor, limit=10)
    assert [e.id for e in back.rows] == [e.id for e in second.rows]
    assert sum(1 for _ in queries.all_line_events(acme.pk, line.pk, batch=7)) == 23


def test_aging_puts_open_balances_in_buckets_as_of_a_date(ledger):
    acme = ledger.acme.pk
    report = queries.aging(acme, TODAY)
    buckets = {b.key: (b.balance_minor, b.invoice_count) for b in report.buckets}
    assert buckets["current"] == (ledger.disputed.total_minor, 1)  # due 12-25
    assert buckets["31_60"] == (500, 1)  # due 10-31: 50 days past due
    assert report.total_minor == 500 + ledger.disputed.total_minor
    # As of 15 October the September invoice was paid, the October one not yet due,
    # the November one not yet issued, and the 200 payment of 10 December not received.
    earlier = {b.key: b.balance_minor for b in queries.aging(acme, date(2026, 10, 15)).buckets}
    assert earlier == {"current": 700, "1_30": 0, "31_60": 0, "61_90": 0, "over_90": 0}
    due_from, due_to = queries.aging_bucket_range("31_60", TODAY)
    assert (due_from, due_to) == (TODAY - timedelta(days=60), TODAY - timedelta(days=31))


def test_a_void_invoice_owes_nothing_in_the_filtered_total_and_in_the_balance_sort(acme):
    voided_invoice(acme, picks=100)  # $35.00
    issued_invoice(
        acme, picks=10, period=(date(2026, 11, 1), date(2026, 11, 30)), issue_date=date(2026, 12, 1)
    )  # $3.50
    today = date(2026, 12, 5)
    page = queries.invoice_page(acme.pk, today, InvoiceFilters(issued_from=date(2026, 1, 1)))
    assert (page.matching, page.matching_balance_minor) == (2, 350)
    by_balance = queries.invoice_page(acme.pk, today, sort="balance", descending=True)
    assert [(r.status, r.balance_minor) for r in by_balance.rows] == [("open", 350), ("void", 0)]


def test_aging_as_of_a_day_before_a_void_still_counts_what_was_owed_that_day(acme):
    invoice = issued_invoice(acme, picks=10)  # 3.50, issued Nov 1, 2026
    as_of = date(2026, 11, 15)
    assert queries.aging(acme.pk, as_of).total_minor == 350
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=invoice.pk, reason="billed twice")
    invoice.refresh_from_db()
    assert invoice.voided_at.date() > as_of and invoice.balance_minor == 0
    assert queries.aging(acme.pk, as_of).total_minor == 350
    assert queries.aging(acme.pk, invoice.voided_at.date()).total_minor == 0


def test_an_aging_bucket_lists_what_each_invoice_owed_at_the_end_of_its_day(ledger, operator):
    """As of 20 November the October invoice was 20 days late and owed all its 7.00: the
    2.00 paid on 10 December and a 1.00 credit note issued since came later (today it
    owes 4.00). The bucket's list shows 7.00, as the report counted it."""
    acme = ledger.acme.pk
    create_credit_note(
        actor=operator,
        client=ledger.acme,
        invoice_id=ledger.partial.pk,
        amount_minor=100,
        reason="Goodwill",
    )
    later = issued_invoice(
        ledger.acme,
        picks=5,
        period=(date(2026, 9, 1), date(2026, 9, 30)),
        issue_date=date(2026, 10, 10),
    )  # 1.75, due 11-09
    issued_invoice(ledger.globex, picks=9, issue_date=date(2026, 10, 10))  # theirs, as late
    as_of = date(2026, 11, 20)
    report = {b.key: b for b in queries.aging(acme, as_of).buckets}
    assert (report["1_30"].balance_minor, report["1_30"].invoice_count) == (700 + 175, 2)
    bucket = InvoiceFilters(aging="1_30", as_of=as_of)
    page = queries.invoice_page(acme, TODAY, bucket, sort="balance", descending=False)
    assert [(r.number, r.balance_minor) for r in page.rows] == [
        (later.display_number, 175),
        (ledger.partial.display_number, 700),
    ]
    assert (page.matching, page.matching_balance_minor) == (2, 875)
    # Keyset pages on the balance of that day.
    first = queries.invoice_page(acme, TODAY, bucket, sort="balance", descending=True, limit=1)
    second = queries.invoice_page(
        acme, TODAY, bucket, sort="balance", descending=True, cursor=first.next_cursor, limit=1
    )
    assert [r.balance_minor for r in first.rows + second.rows] == [700, 175]
    # Today the same invoice owes what is left of it, in the bucket it is in now.
    now = queries.invoice_page(acme, TODAY, InvoiceFilters(aging="31_60", as_of=TODAY))
    assert {(r.number, r.balance_minor) for r in now.rows} == {
        (later.display_number, 175),
        (ledger.partial.display_number, 400),
    }


def test_an_aging_bucket_is_read_in_a_fixed_number_of_statements(ledger):
    from django.test.utils import CaptureQueriesContext

    acme = ledger.acme.pk
    bucket = InvoiceFilters(aging="1_30", as_of=date(2026, 11, 20))
    with CaptureQueriesContext(connection) as one:
        assert len(queries.invoice_page(acme, TODAY, bucket).rows) == 1
    for n in range(3):
        issued_invoice(ledger.acme, picks=5 + n, issue_date=date(2026, 10, 10))
    with CaptureQueriesContext(connection) as four:
        assert len(queries.invoice_page(acme, TODAY, bucket).rows) == 4
    assert len(four.captured_queries) == len(one.captured_queries)


def test_a_reference_hit_names_the_line_and_event_and_never_another_clients(acme, globex):
    ours = issued_invoice(acme, picks=120, labels=5)
    theirs = issued_invoice(globex, picks=7)
    line = ours.lines.get(kind="pick")
    refs = list(billed_events(line).order_by("occurred_at", "id").values_list("reference", "id"))
    reference, event_id = refs[79]

    def hit(term: str) -> queries.ReferenceHit | None:
        return queries.invoice_page(acme.pk, TODAY, InvoiceFilters(search=term)).reference_hit

    assert hit(reference) == queries.ReferenceHit(
        ours.pk, line.pk, line.description, event_id, reference
    )
    # A prefix opens the invoice at its first match in time.
    assert hit(reference[:-1]).event_id == min(i for r, i in refs if r.startswith(reference[:-1]))
    assert hit("NO-SUCH-REF") is None
    # Another client's invoice, even with its own references: nothing.
    their_ref = billed_events(theirs.lines.get(kind="pick")).values_list("reference", flat=True)[0]
    assert hit(their_ref) is None
    # An invoice number finds its invoice, with no event to open it at.
    number = queries.invoice_page(acme.pk, TODAY, InvoiceFilters(search=ours.display_number))
    assert [r.id for r in number.rows] == [ours.pk] and number.reference_hit is None


def test_a_lines_events_open_at_an_event_and_page_around_it(acme, globex):
    ours = issued_invoice(acme, picks=120)
    line = ours.lines.get(kind="pick")
    ids = list(billed_events(line).order_by("occurred_at", "id").values_list("id", flat=True))
    refs = list(
        billed_events(line).order_by("occurred_at", "id").values_list("reference", flat=True)
    )
    page = queries.line_events(acme.pk, line.pk, at_event=ids[79])
    assert [e.id for e in page.rows] == ids[79:]
    assert page.highlight_id == ids[79] and page.next_cursor is None
    before = queries.line_events(acme.pk, line.pk, page.prev_cursor)
    assert [e.id for e in before.rows] == ids[29:79]
    found = queries.line_events(acme.pk, line.pk, find=refs[10])
    assert found.highlight_id == ids[10] and [e.id for e in found.rows] == ids[10:60]
    first = queries.line_events(acme.pk, line.pk, at_event=ids[0])
    assert first.prev_cursor is None and first.highlight_id == ids[0]
    # An event of no line of this one (another client's): the first page, nothing marked.
    theirs = issued_invoice(globex, picks=3)
    their_event = billed_events(theirs.lines.get(kind="pick")).values_list("id", flat=True)[0]
    other = queries.line_events(acme.pk, line.pk, at_event=their_event)
    assert other.highlight_id is None and [e.id for e in other.rows] == ids[:50]
    nothing = queries.line_events(acme.pk, line.pk, find="NO-SUCH-REF")
    assert nothing.highlight_id is None and [e.id for e in nothing.rows] == ids[:50]


def test_a_search_in_a_lines_events_finds_the_first_reference_starting_so_on_any_day(acme, globex):
    # The line's picks on three days of the month; a label, earlier, with the references
    # of the last day's picks (another line's); another client's picks with the first's.
    for n, day in enumerate((date(2026, 10, 3), date(2026, 10, 12), date(2026, 10, 28))):
        add_events(acme, "pick", 5, day=day, prefix=f"SO-{n}")
    add_events(acme, "label", 3, day=date(2026, 10, 2), prefix="SO-2", source="carrier")
    add_events(globex, "pick", 5, day=date(2026, 10, 1), prefix="SO-0")
    line = issued_invoice(acme, picks=0).lines.get(kind="pick")
    issued_invoice(globex, picks=0)
    # Arrived after the run: in the line's days, but not billed by it.
    add_events(acme, "pick", 2, day=date(2026, 10, 28), prefix="SO-7")
    ids = list(billed_events(line).order_by("occurred_at", "id").values_list("id", flat=True))
    assert len(ids) == 15

    def found(term):
        return queries.line_events(acme.pk, line.pk, find=term).highlight_id

    assert found("REF-SO-2") == ids[10]  # the last day's first, not the label before it
    assert found("REF-SO-1-3") == ids[8]  # a whole reference
    assert found("REF-SO-") == ids[0]  # a prefix of many: the first in time
    assert found("REF-SO-0-4") == ids[4]  # not the other client's, a day earlier
    assert found("REF-SO-7") is None  # not billed by this line
    assert found("SO-1-3") is None  # the start of a reference, not any part of it
    page = queries.line_events(acme.pk, line.pk, find="REF-SO-1")
    assert [e.id for e in page.rows] == ids[5:] and page.find == "REF-SO-1"

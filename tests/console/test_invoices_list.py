"""The console's invoices list: every client's issued invoices, filtered, searched, paged."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from tally.console.queries.invoices import (
    InvoiceFilters,
    invoice_page,
    reference_search_sql,
)
from tally.payments.aging import AGING_BUCKETS
from tally.portal.queries import aging
from tests.factories import draft_invoice, issued_invoice, make_client

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 20)


def _numbers(page) -> set[str]:
    return {r.number for r in page.rows}


def test_the_list_holds_every_clients_issued_invoices_and_no_draft(every_status, globex):
    draft = draft_invoice(globex, picks=3, period=(date(2026, 11, 1), date(2026, 11, 30)))
    page = invoice_page(TODAY)
    assert page.matching == 10 and len(page.rows) == 10
    assert {r.client_code for r in page.rows} == {"acme", "globex"}
    assert draft.pk not in {r.id for r in page.rows}
    # Newest first; the status is the derived one, as the client sees it.
    assert [r.issue_date for r in page.rows] == sorted(
        (r.issue_date for r in page.rows), reverse=True
    )
    statuses = {r.number: r.status for r in page.rows}
    assert statuses[every_status.overdue.display_number] == "overdue"
    assert statuses[every_status.disputed_paid.display_number] == "disputed"
    assert statuses[every_status.void.display_number] == "void"


def test_a_client_filter_narrows_to_its_invoices(every_status, globex):
    page = invoice_page(TODAY, InvoiceFilters(client_id=globex.pk))
    assert [r.client_code for r in page.rows] == ["globex"]
    assert page.matching == 1


def test_status_is_repeatable_and_follows_the_derived_rule(every_status):
    page = invoice_page(TODAY, InvoiceFilters(statuses=("overdue", "disputed")))
    expected = {
        every_status.overdue.display_number,
        every_status.overdue_partly_paid.display_number,
        every_status.disputed.display_number,
        every_status.disputed_paid.display_number,
    }
    # Globex's September invoice is overdue too.
    assert expected < _numbers(page) and len(page.rows) == 5
    assert invoice_page(TODAY, InvoiceFilters(statuses=("nonsense",))).rows == []


def test_currency_and_amount_compare_each_invoice_in_its_own_currency(every_status):
    tokyo = make_client("tokyo", currency="JPY", prices={"pick": "35"})
    yen = issued_invoice(tokyo, picks=10)  # ¥350
    assert _numbers(invoice_page(TODAY, InvoiceFilters(currency="JPY"))) == {yen.display_number}
    # 300 to 400: ¥350 is in; USD invoices of $3.50–$6.30 are not.
    page = invoice_page(TODAY, InvoiceFilters(amount_min=Decimal(300), amount_max=Decimal(400)))
    assert _numbers(page) == {yen.display_number}
    page = invoice_page(
        TODAY, InvoiceFilters(amount_min=Decimal("3.85"), amount_max=Decimal("4.2"))
    )
    assert {r.total_minor for r in page.rows} == {385, 420}  # 11 and 12 picks at $0.35
    assert page.balances.keys() == {"USD"}


def test_date_filters(every_status):
    page = invoice_page(
        TODAY, InvoiceFilters(issued_from=date(2026, 12, 1), due_to=date(2026, 12, 31))
    )
    assert {r.issue_date for r in page.rows} == {date(2026, 12, 1)}


@pytest.mark.parametrize("as_of", [TODAY, date(2026, 10, 15), date(2026, 12, 5)])
def test_an_aging_bucket_lists_the_invoices_the_aging_report_counts_there(
    every_status, acme, as_of
):
    report = {b.key: sorted(b.invoice_ids) for b in aging(acme.pk, as_of).buckets}
    for key, *_ in AGING_BUCKETS:
        page = invoice_page(TODAY, InvoiceFilters(client_id=acme.pk, aging=key, as_of=as_of))
        assert sorted(r.id for r in page.rows) == report[key], key


def test_search_by_printed_number_in_every_spelling(every_status):
    invoice = every_status.open
    for term in (
        invoice.display_number,
        str(invoice.number),
        f"INV-{invoice.number}",
        f"inv-{invoice.number}",
    ):
        assert _numbers(invoice_page(TODAY, InvoiceFilters(search=term))) == {
            invoice.display_number
        }, term


def test_search_by_an_events_reference_across_clients_and_within_one(acme, globex):
    mine = issued_invoice(acme, picks=3, pick_prefix="SO-7781")
    theirs = issued_invoice(globex, picks=3, pick_prefix="SO-7782")
    issued_invoice(
        acme, picks=3, pick_prefix="ZZ-1", period=(date(2026, 11, 1), date(2026, 11, 30))
    )
    assert _numbers(invoice_page(TODAY, InvoiceFilters(search="REF-SO-778"))) == {
        mine.display_number,
        theirs.display_number,
    }
    assert _numbers(invoice_page(TODAY, InvoiceFilters(search="REF-SO-7781-2"))) == {
        mine.display_number
    }
    within = invoice_page(TODAY, InvoiceFilters(search="REF-SO-778", client_id=globex.pk))
    assert _numbers(within) == {theirs.display_number}
    assert invoice_page(TODAY, InvoiceFilters(search="REF-nothing")).rows == []


def test_a_reference_found_on_a_void_invoice_and_its_rebilled_draft_shows_the_void_one(acme):
    from tally.actions.invoices import void_invoice
    from tally.audit.actors import SystemActor

    billed = issued_invoice(acme, picks=2, pick_prefix="PO-1")
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=billed.pk, reason="Wrong")
    draft_invoice(acme, picks=0)  # bills the same events again, as a draft
    assert _numbers(invoice_page(TODAY, InvoiceFilters(search="REF-PO-1"))) == {
        billed.display_number
    }


def test_the_reference_search_seeks_the_reference_index(acme):
    issued_invoice(acme, picks=3, pick_prefix="SO-1")
    sql, params = reference_search_sql("REF-SO", None)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql.replace("%s", "?"), params)
            plan = " | ".join(row[-1] for row in cursor.fetchall())
            assert (
                "SEARCH e USING INDEX event_day_reference_idx (client_id=? AND occurred_on=? AND reference>? AND reference<?)"
                in plan
            ), plan
            assert "SCAN e" not in plan, plan
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: judge the plan's shape
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "event_day_reference_idx" in plan, plan


def test_pages_are_one_query_each_at_any_depth(acme, django_assert_num_queries):
    for month in range(1, 10):
        start = date(2026, month, 1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        issued_invoice(acme, picks=1, period=(start, end), issue_date=end + timedelta(days=1))
    seen = []
    cursor = None
    for _ in range(5):
        # One query for the rows, one for the count and totals.
        with django_assert_num_queries(2):
            page = invoice_page(TODAY, cursor=cursor, limit=2, sort="amount")
        seen += [r.id for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 9
    back = invoice_page(TODAY, cursor=page.prev_cursor, limit=2, sort="amount")
    assert [r.id for r in back.rows] == seen[-3:-1]


def test_outstanding_is_every_invoice_still_owed(every_status):
    page = invoice_page(TODAY, InvoiceFilters(statuses=("outstanding",)))
    assert {r.status for r in page.rows} <= {"open", "overdue", "partially_paid", "disputed"}
    assert every_status.open.display_number in _numbers(page)
    assert every_status.paid.display_number not in _numbers(page)
    assert every_status.disputed_paid.display_number not in _numbers(page)

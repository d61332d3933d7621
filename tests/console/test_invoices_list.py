"""The console's invoices list: every client's issued invoices, filtered, searched, paged."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tally.console.queries.invoices import InvoiceFilters, invoice_page
from tally.payments.aging import AGING_BUCKETS
from tally.portal.queries import aging
from tests.factories import draft_invoice, issued_invoice, make_client, pay

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 20)
NOV_25 = date(2026, 11, 25)  # the tests' clock: the console's today


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


def test_a_reference_search_across_clients_finds_both_ends_of_their_events(acme, globex):
    """Across clients the search seeks every day from the first event's to the last's
    (SQLite: 100 days to a statement), whoever's they are."""
    first = issued_invoice(
        acme,
        picks=2,
        pick_prefix="EDGE-1",
        period=(date(2026, 1, 1), date(2026, 1, 31)),
        issue_date=date(2026, 2, 1),
    )
    last = issued_invoice(
        globex,
        picks=2,
        pick_prefix="EDGE-2",
        period=(date(2026, 12, 1), date(2026, 12, 31)),
        issue_date=date(2026, 12, 20),
    )
    assert _numbers(invoice_page(TODAY, InvoiceFilters(search="REF-EDGE-"))) == {
        first.display_number,
        last.display_number,
    }
    assert invoice_page(TODAY, InvoiceFilters(search="REF-EDGE-1", client_id=globex.pk)).rows == []


def test_a_reference_found_on_a_void_invoice_and_its_rebilled_draft_shows_the_void_one(acme):
    from tally.actions.invoices import void_invoice
    from tally.audit.actors import SystemActor

    billed = issued_invoice(acme, picks=2, pick_prefix="PO-1")
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=billed.pk, reason="Wrong")
    draft_invoice(acme, picks=0)  # bills the same events again, as a draft
    assert _numbers(invoice_page(TODAY, InvoiceFilters(search="REF-PO-1"))) == {
        billed.display_number
    }


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


# -- the list opened from an aging figure: balances as they stood on its day ----------------
OCT_1 = date(2026, 10, 1)  # issued then, due 31 Oct: 1–30 days past due in November
NOV_19, NOV_20 = date(2026, 11, 19), date(2026, 11, 20)


@pytest.fixture
def paid_since(acme):
    """Acme's $35.00 invoice of 1 Oct, $20.00 of it paid on 20 Nov; and a $3.50 one."""
    invoice = issued_invoice(acme, picks=100, issue_date=OCT_1)
    issued_invoice(acme, picks=10, issue_date=OCT_1, day=date(2026, 10, 20))
    pay(acme, 2000, invoice=invoice, received_on=NOV_20)
    return invoice


def test_an_aging_figures_list_shows_each_balance_and_the_total_on_its_day(acme, paid_since):
    then = invoice_page(NOV_25, InvoiceFilters(client_id=acme.pk, aging="1_30", as_of=NOV_19))
    now = invoice_page(NOV_25, InvoiceFilters(client_id=acme.pk, aging="1_30", as_of=NOV_25))
    everything = invoice_page(NOV_25, InvoiceFilters(client_id=acme.pk))
    balances = lambda page: {r.id: r.balance_minor for r in page.rows}  # noqa: E731
    assert balances(then)[paid_since.pk] == 3500 and then.balances == {"USD": 3850}
    assert balances(now)[paid_since.pk] == 1500 and now.balances == {"USD": 1850}
    assert balances(everything)[paid_since.pk] == 1500 and everything.balances == {"USD": 1850}
    assert (then.balance_on, now.balance_on, everything.balance_on) == (NOV_19, NOV_25, None)
    # The aging report's figure and its list agree.
    [cell] = [b for b in aging(acme.pk, NOV_19).buckets if b.key == "1_30"]
    assert cell.balance_minor == then.balances["USD"]


def test_an_aging_figures_list_sorts_and_pages_by_the_balance_on_its_day(acme, paid_since):
    filters = InvoiceFilters(client_id=acme.pk, aging="1_30", as_of=NOV_19)
    first = invoice_page(NOV_25, filters, sort="balance", descending=False, limit=1)
    second = invoice_page(NOV_25, filters, "balance", False, first.next_cursor, limit=1)
    assert [r.balance_minor for r in first.rows + second.rows] == [350, 3500]
    assert second.next_cursor is None


def _balances_shown(html: str) -> list[str]:
    return re.findall(r'<td class="num">([^<]+)</td>\s*</tr>', html)


def test_the_list_from_an_aging_cell_labels_the_balance_with_its_day(ops, acme, paid_since):
    url = f"/console/invoices/?client={acme.pk}&aging=1_30&as_of=2026-11-19&sort=balance"
    html = ops.get(url).content.decode()
    assert "Balance on Nov 19, 2026" in html
    assert _balances_shown(html) == ["$35.00", "$3.50"]
    assert "owed at the end of Nov 19, 2026 $38.50" in html
    assert "each with the balance it had at the end of that day" in html
    # Without the day: today's, still labelled with its day; without the figure: "Balance".
    html = ops.get(f"/console/invoices/?client={acme.pk}&aging=1_30&sort=balance").content.decode()
    assert "Balance on Nov 25, 2026" in html and _balances_shown(html) == ["$15.00", "$3.50"]
    html = ops.get(f"/console/invoices/?client={acme.pk}&sort=balance").content.decode()
    assert "Balance on" not in html and _balances_shown(html) == ["$15.00", "$3.50"]
    assert "unpaid $18.50" in html


def test_an_aging_figure_of_a_day_to_come_is_refused_and_lists_nothing(ops, acme, paid_since):
    html = ops.get(f"/console/invoices/?client={acme.pk}&aging=1_30&as_of=2026-12-01").content
    html = html.decode()
    assert "the aging of a day to come is not known yet" in html
    assert 'id="aging-as-of-error" role="alert"' in html
    assert "0 invoices" in html and "data-invoice=" not in html

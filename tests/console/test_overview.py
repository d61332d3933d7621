"""The console's overview: every figure against a ledger built by hand, the aging against
the portal's (one definition), the work queues, and the page's as-of form."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tally.clients.models import BillingContact
from tally.console.queries import overview as queries
from tally.console.queries.unrated import unrated_events
from tally.console.views.overview import page_link
from tally.disputes.services import post_dispute_message
from tally.invoicing.models import Invoice
from tally.payments.aging import AGING_BUCKETS
from tally.portal.queries import aging as portal_aging
from tally.reminders.services import send_due_reminders
from tests.factories import (
    add_events,
    draft_invoice,
    generate,
    issued_invoice,
    make_client,
    pay,
    voided_invoice,
)

pytestmark = pytest.mark.django_db

DEC_20 = date(2026, 12, 20)  # the day every_status's invoices are named for


def figures_of(currency: str, today: date) -> queries.CurrencyFigures:
    return next(f for f in queries.currency_figures(today) if f.currency == currency)


def balance(*invoices) -> int:
    for invoice in invoices:
        invoice.refresh_from_db()
    return sum(i.balance_minor for i in invoices)


def test_outstanding_overdue_and_disputed_follow_the_invoices_status_rules(every_status, globex):
    s = every_status
    owed = [s.overdue, s.overdue_partly_paid, s.open, s.partially_paid, s.partially_credited]
    globex_overdue = Invoice.objects.get(client=globex, status="open")  # issued 1 Sep

    usd = figures_of("USD", DEC_20)

    # Outstanding: every open invoice, disputed or not (the disputed one is open too).
    assert usd.outstanding_minor == balance(*owed, s.disputed, globex_overdue)
    assert usd.outstanding_count == len(owed) + 2
    # Overdue: open, past due, no open dispute.
    assert usd.overdue_minor == balance(s.overdue, s.overdue_partly_paid, globex_overdue)
    assert usd.overdue_count == 3
    # Disputed: an open dispute, whatever it owes (the paid one owes nothing).
    assert (usd.disputed_minor, usd.disputed_count) == (balance(s.disputed), 2)


def test_money_received_counts_this_month_and_this_year_and_unapplied_credit(acme, globex):
    invoice = issued_invoice(acme, picks=100)  # $35.00
    pay(acme, 1000, invoice=invoice, received_on=date(2026, 12, 3))
    pay(acme, 500, invoice=invoice, received_on=date(2026, 2, 1))
    pay(acme, 700, invoice=invoice, received_on=date(2025, 12, 31))  # last year: neither
    pay(globex, 250, auto_allocate=False, received_on=date(2025, 6, 1))  # credit, not paid

    usd = figures_of("USD", date(2026, 12, 20))

    assert (usd.paid_month_minor, usd.paid_year_minor) == (1000, 1500)
    assert usd.unapplied_minor == 250


def test_each_currency_billed_has_figures_of_its_own(acme):
    eur = make_client("eurotrans", currency="EUR")
    jpy = make_client("nippon", currency="JPY")
    usd_invoice = issued_invoice(acme, picks=10)  # $3.50
    eur_invoice = issued_invoice(eur, picks=20)  # €7.00
    issued_invoice(jpy, picks=100)  # ¥35
    pay(eur, 300, invoice=eur_invoice, received_on=date(2026, 11, 20))

    figures = {f.currency: f for f in queries.currency_figures(date(2026, 11, 25))}

    assert sorted(figures) == ["EUR", "JPY", "USD"]
    assert figures["USD"].outstanding_minor == usd_invoice.total_minor == 350
    assert (figures["EUR"].outstanding_minor, figures["EUR"].paid_month_minor) == (400, 300)
    assert figures["JPY"].outstanding_minor == 35
    assert figures["USD"].paid_month_minor == 0


def test_drafts_and_void_invoices_are_in_no_figure(acme, operator):
    draft_invoice(acme, picks=50)
    voided_invoice(acme, picks=10, period=(date(2026, 9, 1), date(2026, 9, 30)))

    assert queries.currency_figures(date(2026, 11, 25)) == []


@pytest.mark.parametrize(
    "as_of",
    [DEC_20, date(2026, 11, 25), date(2026, 10, 15), date(2026, 9, 16), date(2026, 6, 25)],
)
def test_the_aging_by_client_is_the_portals_aging_of_each_client(every_status, globex, as_of):
    issued_invoice(
        globex, picks=30, issue_date=date(2026, 6, 1), period=(date(2026, 5, 1), date(2026, 5, 31))
    )

    table = queries.aging_by_client(as_of)

    for client_id in (every_status.paid.client_id, globex.pk):
        report = portal_aging(client_id, as_of)
        row = next((r for r in table.rows if r.client_id == client_id), None)
        expected = [(b.key, b.balance_minor, b.invoice_count) for b in report.buckets]
        if report.invoice_count == 0:
            assert row is None
            continue
        assert row is not None
        assert [(c.key, c.balance_minor, c.invoice_count) for c in row.cells] == expected


def test_the_aging_buckets_by_days_past_due_with_totals_per_currency(acme, globex):
    # Due 30 days after issue: issued on these days, each is this many days past due on 25 Nov.
    issued = {
        "current": date(2026, 11, 1),  # due 1 Dec
        "edge_current": date(2026, 10, 26),  # due 25 Nov: 0 days, current
        "1_30": date(2026, 10, 25),  # due 24 Nov: 1 day
        "thirty_days": date(2026, 9, 26),  # due 26 Oct: 30 days, still 1–30
        "61_90": date(2026, 8, 1),  # due 31 Aug: 86 days
        "over_90": date(2026, 7, 27),  # due 26 Aug: 91 days
    }
    made = {}
    for i, (name, day) in enumerate(issued.items()):
        start = date(2026, 1, 1) + timedelta(days=14 * i)
        made[name] = issued_invoice(
            acme, picks=10 + i, issue_date=day, period=(start, start + timedelta(days=6))
        )
    issued_invoice(globex, picks=40, issue_date=date(2026, 10, 1))  # due 31 Oct: 25 days

    table = queries.aging_by_client(date(2026, 11, 25))

    acme_row = next(r for r in table.rows if r.client_id == acme.pk)
    cells = {c.key: (c.balance_minor, c.invoice_count) for c in acme_row.cells}
    total = lambda *names: sum(made[n].total_minor for n in names)  # noqa: E731
    assert cells == {
        "current": (total("current", "edge_current"), 2),
        "1_30": (total("1_30", "thirty_days"), 2),
        "31_60": (0, 0),
        "61_90": (total("61_90"), 1),
        "over_90": (total("over_90"), 1),
    }
    [usd] = table.totals
    assert usd.client_id is None and usd.currency == "USD"
    assert usd.balance_minor == acme_row.balance_minor + 40 * 35
    assert [c.key for c in usd.cells] == [key for key, *_ in AGING_BUCKETS]
    assert table.rows[0].client_id == acme.pk  # most owed first


def test_a_payment_received_after_the_day_still_counts_as_owed_on_it(acme):
    invoice = issued_invoice(acme, picks=10, issue_date=date(2026, 10, 1))
    pay(acme, invoice.total_minor, invoice=invoice, received_on=date(2026, 11, 20))

    before = queries.aging_by_client(date(2026, 11, 19))
    after = queries.aging_by_client(date(2026, 11, 20))

    assert before.rows[0].balance_minor == invoice.total_minor
    assert after.rows == [] and after.totals == []


def test_the_work_queues_count_disputes_waiting_drafts_failed_reminders_and_unrated(
    every_status, acme, globex, operator
):
    draft_invoice(globex, picks=5, period=(date(2026, 11, 1), date(2026, 11, 30)))
    # Globex has nobody to send a reminder to: its step fails.
    BillingContact.objects.filter(client=globex).delete()
    issued_invoice(
        globex, picks=5, issue_date=date(2026, 10, 1), period=(date(2026, 9, 1), date(2026, 9, 30))
    )
    send_due_reminders(today=date(2026, 11, 28))
    add_events(acme, "pick", 3, day=date(2025, 12, 31))  # before Acme's rate card

    queues = queries.work_queues()

    assert queues.disputes_waiting == 2  # both of every_status's, the client spoke last
    assert queues.drafts == 1
    assert queues.reminders >= 1
    assert (queues.unrated_events, queues.unrated_clients) == (3, 1)

    dispute = every_status.disputed.disputes.get()
    post_dispute_message(actor=operator, client=acme, dispute_id=dispute.pk, body="Looking.")
    assert queries.work_queues().disputes_waiting == 1


def test_events_of_a_kind_the_rate_card_does_not_price_are_unrated(acme):
    storeless = make_client("storeless", prices={"pick": "0.35"}, rates_from=date(2026, 3, 1))
    add_events(storeless, "storage_day", 4, quantity=3)
    add_events(storeless, "pick", 6)  # priced
    add_events(storeless, "pick", 2, day=date(2026, 2, 28))  # before its card
    add_events(acme, "pick", 5)  # priced
    billed = generate(storeless, (date(2026, 10, 1), date(2026, 10, 31)))

    rows = [(r.client_name, r.kind, r.events, r.quantity) for r in unrated_events()]

    assert rows == [("Storeless Inc.", "storage_day", 4, 12), ("Storeless Inc.", "pick", 2, 2)]
    # What the billing run reported unrated for October is the same.
    assert [(u.kind, u.events, u.quantity) for u in billed.unrated] == [("storage_day", 4, 12)]


def test_the_overview_reads_a_fixed_handful_of_statements_whatever_the_clients(ops, acme):
    issued_invoice(acme, picks=10)

    def statements() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert ops.get("/console/").status_code == 200
        return len(ctx.captured_queries)

    few = statements()
    for n in range(5):
        client = make_client(f"more-{n}", currency=("EUR", "USD")[n % 2])
        issued_invoice(client, picks=n + 1, issue_date=date(2026, 9, 1))
        pay(client, 10, auto_allocate=False)
    assert statements() == few <= 13  # with the client notices waiting, one statement


# -- the page ----------------------------------------------------------------------------
def test_operators_land_on_the_overview(ops, every_status):
    response = ops.get("/console/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Overview</h1>" in html
    assert 'data-figure="outstanding"' in html and 'href="/console/disputes/"' in html
    assert response.context["aging"].as_of == timezone.localdate()


def test_a_day_to_come_is_refused_next_to_the_field_and_today_shown(ops, acme):
    issued_invoice(acme, picks=10, issue_date=date(2026, 10, 1))

    response = ops.get("/console/", {"as_of": "2026-11-26"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="as_of-error"' in html and "Choose today (November 25, 2026)" in html
    assert 'aria-invalid="true"' in html
    assert response.context["aging"].as_of == date(2026, 11, 25)


def test_an_earlier_day_shows_the_aging_as_it_stood_then(ops, acme):
    invoice = issued_invoice(acme, picks=10, issue_date=date(2026, 10, 1))
    pay(acme, invoice.total_minor, invoice=invoice, received_on=date(2026, 11, 20))

    then = ops.get("/console/", {"as_of": "2026-11-01"})
    now = ops.get("/console/")

    assert then.context["aging"].rows[0].balance_minor == invoice.total_minor
    assert "end of Nov 1, 2026" in then.content.decode()
    assert now.context["aging"].rows == []
    assert "No client owed anything" in now.content.decode()


def test_a_link_to_a_list_that_is_not_there_yet_is_no_link():
    assert page_link("console:no_such_list")(client=1) is None
    assert page_link("console:disputes")() == "/console/disputes/"
    assert (
        page_link("console:disputes")(client=3, aging="1_30", as_of="2026-11-01", x=None)
        == "/console/disputes/?client=3&aging=1_30&as_of=2026-11-01"
    )


def test_the_reminders_to_look_at_list_the_failed_steps(ops, globex):
    BillingContact.objects.filter(client=globex).delete()
    invoice = issued_invoice(globex, picks=5, issue_date=date(2026, 10, 1))
    send_due_reminders(today=date(2026, 11, 28))

    response = ops.get("/console/reminders/")

    html = response.content.decode()
    assert response.status_code == 200
    assert invoice.display_number in html and "no billing contact" in html and "Failed" in html


def test_the_unrated_page_lists_clients_and_kinds(ops):
    storeless = make_client("storeless", prices={"pick": "0.35"})
    add_events(storeless, "storage_day", 4, quantity=3)

    html = ops.get("/console/unrated/").content.decode()

    assert "Storeless Inc." in html and "Storage day" in html and "4 events in all" in html


@pytest.mark.sqlite_only
def test_the_reminders_to_look_at_are_read_from_their_own_index(globex):
    from tally.console.queries.reminders import REVIEW_PAGES, TO_REVIEW
    from tally.reminders.models import Reminder

    to_review = Reminder.objects.filter(status__in=TO_REVIEW)
    page = to_review.order_by("-scheduled_for", "-id")[:51]
    for qs in (page, to_review):
        with connection.cursor() as cursor:
            sql, params = qs.query.sql_with_params()
            if qs is to_review:
                sql, params = to_review.values("id").query.sql_with_params()
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "reminder_status_idx" in plan, plan
    assert REVIEW_PAGES.keys[0].field == "scheduled_for"


def test_each_aging_figure_links_to_the_invoices_behind_it(ops, acme, globex):
    import re

    recent = issued_invoice(acme, picks=10, issue_date=date(2026, 11, 1))  # current
    late = issued_invoice(
        acme, picks=11, issue_date=date(2026, 10, 1), period=(date(2026, 9, 1), date(2026, 9, 30))
    )  # due 31 Oct: 25 days, 1–30
    issued_invoice(globex, picks=12, issue_date=date(2026, 10, 2))  # 1–30, another client

    html = ops.get("/console/").content.decode()
    cell = re.search(
        rf'<tr data-client="{acme.pk}">.*?data-bucket="1_30"><a href="([^"]+)"', html, re.S
    )
    assert cell is not None
    link = cell.group(1).replace("&amp;", "&")
    assert link == f"/console/invoices/?client={acme.pk}&aging=1_30&as_of=2026-11-25"
    listed = re.findall(r'<tr data-invoice="([^"]+)"', ops.get(link).content.decode())
    assert listed == [late.display_number]
    assert recent.display_number not in listed

"""The payments page: what was received, what each payment paid, and what is left as credit."""

import re
from datetime import date

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from tally.accounts.models import Role
from tally.portal import queries
from tests.factories import issued_invoice, make_user, pay

pytestmark = pytest.mark.django_db


def browser_for(client):
    browser = HttpClient()
    browser.force_login(
        make_user(role=Role.CLIENT_USER, client=client, email=f"ap@{client.code}.example")
    )
    return browser


def test_each_payment_shows_what_it_paid_and_what_is_left_and_no_other_clients(acme, globex):
    first = issued_invoice(acme, picks=10, issue_date=date(2026, 10, 1))  # 3.50
    second = issued_invoice(acme, picks=20)  # 7.00
    pay(
        acme, 800, reference="REF-split", received_on=date(2026, 11, 5), method="wire"
    )  # oldest first: 3.50 + 4.50
    pay(acme, 999, reference="PREPAY-9", received_on=date(2026, 11, 9), auto_allocate=False)
    pay(globex, 777, reference="GLOBEX-SECRET", received_on=date(2026, 11, 6))
    html = browser_for(acme).get(reverse("portal:payments")).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "2 payments · $17.99 received" in text
    assert "GLOBEX-SECRET" not in html and "$7.77" not in text
    # Newest first; the split payment names both invoices with what each got.
    assert text.index("PREPAY-9") < text.index("REF-split")
    assert f"{first.display_number} $3.50" in text and f"{second.display_number} $4.50" in text
    assert "Wire transfer" in text
    prepay_row = text[text.index("PREPAY-9") :].split("</tr>")[0]
    assert "$9.99 — $9.99" in prepay_row  # amount, applied to nothing, all of it unapplied
    # Each invoice paid links to its own page, which opens however old the invoice is.
    assert f'href="/invoices/{first.display_number}/"' in html


def test_the_paid_year_to_date_card_leads_to_the_payments_it_adds_up(acme):
    invoice = issued_invoice(acme, picks=100)  # 35.00
    pay(acme, 1000, reference="REF-last-year", received_on=date(2025, 12, 30), auto_allocate=False)
    pay(acme, 1200, invoice=invoice, received_on=date(2026, 2, 3))
    pay(acme, 300, received_on=date(2026, 11, 2))
    browser = browser_for(acme)
    billing = browser.get("/").content.decode()
    link = re.search(r'<a class="card" href="([^"]+)" data-card="paid">', billing).group(1)
    cards_total = re.search(r'data-card="paid">.*?card-value">([^<]+)<', billing, re.S).group(1)
    page = browser.get(link.replace("&amp;", "&")).content.decode()
    assert cards_total == "$15.00"
    assert "2 payments in this range · $15.00 received" in re.sub(r"\s+", " ", page)
    assert "REF-last-year" not in page


def test_payments_come_a_page_at_a_time_newest_first_with_no_query_per_row(acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    invoice = issued_invoice(acme, picks=1000)  # 350.00
    for n in range(7):
        pay(acme, 100 + n, received_on=date(2026, 11, 1 + n % 3), allocations=[(invoice.pk, 50)])
    seen, cursor, queries_per_page = [], None, set()
    while True:
        with CaptureQueriesContext(connection) as ran:
            page = queries.payment_page(acme.pk, cursor=cursor, limit=3)
        queries_per_page.add(len(ran))
        seen += [(p.received_on, p.id) for p in page.rows]
        assert page.count == 7 and page.total_minor == sum(100 + n for n in range(7))
        assert all(p.applied_to[0].amount_minor == 50 for p in page.rows)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)
    assert len(queries_per_page) == 1  # pages of 3, 3 and 1 payments: the same queries


def test_a_date_range_given_backwards_says_so_and_a_bad_cursor_starts_from_the_top(acme):
    pay(acme, 500, reference="REF-only", received_on=date(2026, 11, 5), auto_allocate=False)
    browser = browser_for(acme)
    html = browser.get(
        reverse("portal:payments"), {"received_from": "2026-12-01", "received_to": "2026-11-01"}
    ).content.decode()
    assert "“Received to” must not be before “Received from”." in html
    assert "REF-only" not in html  # the valid end still applies: nothing from Dec 1
    tampered = browser.get(reverse("portal:payments"), {"cursor": "not-a-cursor"})
    assert tampered.status_code == 200 and "REF-only" in tampered.content.decode()


def test_newer_payments_lead_back_page_by_page_with_the_same_queries(acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(8):  # received on three days: pages split days, the id breaks ties
        pay(acme, 100 + n, received_on=date(2026, 11, 1 + n % 3), auto_allocate=False)
    pages, cursor = [], None
    while True:
        page = queries.payment_page(acme.pk, cursor=cursor, limit=3)
        pages.append([p.id for p in page.rows])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert queries.payment_page(acme.pk, limit=3).prev_cursor is None
    back, cursor, counts = [], page.prev_cursor, set()
    while cursor is not None:
        with CaptureQueriesContext(connection) as ran:
            page = queries.payment_page(acme.pk, cursor=cursor, limit=3)
        counts.add(len(ran))
        back.insert(0, [p.id for p in page.rows])
        cursor = page.prev_cursor
    assert back == pages[:-1] and len(counts) == 1


def test_the_payments_page_links_to_newer_payments_once_past_the_first(acme):
    for n in range(4):
        pay(acme, 100 + n, reference=f"REF-{n}", received_on=date(2026, 11, 1 + n))
    browser = browser_for(acme)
    first = browser.get(reverse("portal:payments"), {"received_from": "2026-11-01"})
    html = first.content.decode()
    # The page shows 25: a cursor from a page of two stands for having paged on.
    page = queries.payment_page(acme.pk, date(2026, 11, 1), limit=2)
    assert "← Newer payments" not in html and "Older payments" not in html
    second = browser.get(
        reverse("portal:payments"), {"received_from": "2026-11-01", "cursor": page.next_cursor}
    ).content.decode()
    older = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", second))
    assert "REF-1" in older and "REF-0" in older and "REF-3" not in older
    newer = re.search(r'<a rel="prev" href="\?([^"]+)">← Newer payments</a>', second)
    assert newer is not None
    back = browser.get(reverse("portal:payments") + "?" + newer.group(1).replace("&amp;", "&"))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", back.content.decode()))
    assert "REF-3" in text and "REF-2" in text and "REF-1" not in text


def test_a_refund_and_a_credit_after_payment_show_beside_the_payment_and_only_to_its_client(
    acme, globex
):
    from tally.actions.invoices import create_credit_note
    from tally.actions.payments import refund_credit
    from tally.audit.actors import SystemActor

    invoice = issued_invoice(acme, picks=10)  # 3.50
    payment = pay(acme, 350, invoice=invoice, reference="REF-paid").payment
    create_credit_note(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=invoice.pk,
        amount_minor=150,
        reason="Damaged pallet",
    )
    refund_credit(
        actor=SystemActor.TESTS,
        client=acme,
        payment_id=payment.pk,
        amount_minor=100,
        refunded_on=date(2026, 11, 20),
        method="wire",
        reference="RF-77",
    )
    theirs = pay(globex, 500, auto_allocate=False, reference="GLOBEX-CREDIT").payment
    refund_credit(
        actor=SystemActor.TESTS,
        client=globex,
        payment_id=theirs.pk,
        amount_minor=200,
        refunded_on=date(2026, 11, 20),
        method="wire",
        reference="GLOBEX-RF",
    )
    page = queries.payment_page(acme.pk)
    (row,) = page.rows
    assert (row.unapplied_minor, page.credit_minor) == (50, 50)
    assert [(r.amount_minor, r.reference) for r in row.refunds] == [(100, "RF-77")]
    assert [(a.amount_minor) for a in row.applied_to] == [200]
    browser = browser_for(acme)
    html = browser.get(reverse("portal:payments")).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Refunded $1.00 on" in text and "RF-77" in text
    assert "You have $0.50 of credit on your account" in text
    assert "GLOBEX" not in html
    billing = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", browser.get("/").content.decode()))
    assert "$0.50 credit on your account" in billing

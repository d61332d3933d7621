"""The aging by client: the overview's clients owing most in each currency, and the whole
table a page at a time (most owed first), each as of any past day."""

import re
from datetime import date
from html import unescape

import pytest

from tally.console.queries import aging as queries
from tally.console.queries import overview
from tally.invoicing.models import Invoice
from tally.portal.queries import aging as portal_aging
from tests.factories import issued_invoice, make_client, pay

pytestmark = pytest.mark.django_db

OCT_1 = date(2026, 10, 1)  # issued then, due 31 Oct: 1–30 days past due on 25 Nov


@pytest.fixture
def owing():
    """Five USD clients owing 10, 40, 20, 40 and 30 picks (two owe the same), and one EUR
    client; in the order each owes, most first (equal amounts: by client id)."""
    clients = {}
    for n, picks in enumerate((10, 40, 20, 40, 30)):
        client = make_client(f"usd-{n}")
        issued_invoice(client, picks=picks, issue_date=OCT_1)
        clients[client] = picks
    eur = make_client("eur-0", currency="EUR")
    issued_invoice(eur, picks=5, issue_date=OCT_1)
    usd = sorted(clients, key=lambda c: (-clients[c], -c.pk))
    return usd, eur


def _client_ids(html: str, currency: str) -> list[int]:
    table = re.search(
        rf'<table class="aging"[^>]*data-currency="{currency}".*?</table>', html, re.S
    )
    assert table, currency
    return [int(i) for i in re.findall(r'<tr data-client="(\d+)">', table.group(0))]


def _href(html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return unescape(found.group(1)) if found else None


def test_the_overview_shows_the_clients_owing_most_and_every_clients_total(ops, owing, monkeypatch):
    usd, eur = owing
    monkeypatch.setattr(overview, "OVERVIEW_AGING_ROWS", 2)

    response = ops.get("/console/")

    html = response.content.decode()
    assert _client_ids(html, "USD") == [c.pk for c in usd[:2]]
    assert _client_ids(html, "EUR") == [eur.pk]
    [usd_total] = [t for t in response.context["aging"].totals if t.currency == "USD"]
    assert usd_total.balance_minor == sum(35 * p for p in (10, 40, 20, 40, 30))
    assert 'href="/console/aging/?currency=USD" data-aging-all="USD">All 5 clients' in html
    assert "The EUR aging on a page of its own" in html  # one client: all of it is shown


def test_the_aging_page_lists_every_client_most_owed_first_a_page_at_a_time(owing):
    usd, _ = owing
    today = date(2026, 11, 25)

    first = queries.aging_page(today, "USD", limit=2)
    second = queries.aging_page(today, "USD", first.next_cursor, limit=2)
    third = queries.aging_page(today, "USD", second.next_cursor, limit=2)
    back = queries.aging_page(today, "USD", third.prev_cursor, limit=2)

    pages = [[r.client_id for r in p.rows] for p in (first, second, third)]
    assert pages == [[c.pk for c in usd[:2]], [c.pk for c in usd[2:4]], [usd[4].pk]]
    assert third.next_cursor is None and first.prev_cursor is None
    assert [r.client_id for r in back.rows] == pages[1]
    assert (first.clients, first.currencies) == (5, ["EUR", "USD"])
    # Each row is the portal's aging of that client (the one definition).
    for row in first.rows + second.rows:
        report = portal_aging(row.client_id, today)
        assert [(c.key, c.balance_minor, c.invoice_count) for c in row.cells] == [
            (b.key, b.balance_minor, b.invoice_count) for b in report.buckets
        ]


def test_the_aging_page_is_of_one_currency_the_first_owed_unless_asked(owing):
    usd, eur = owing
    today = date(2026, 11, 25)

    assert [r.client_id for r in queries.aging_page(today, "EUR").rows] == [eur.pk]
    unknown = queries.aging_page(today, "XYZ")
    assert unknown.currency == "EUR" and unknown.total.balance_minor == 5 * 35


def test_the_aging_page_stands_as_of_a_past_day_and_follows_its_links(ops, owing):
    usd, _ = owing
    paid = usd[0]
    invoice = Invoice.objects.get(client=paid)
    pay(paid, invoice.total_minor, invoice=invoice, received_on=date(2026, 11, 20))

    then = ops.get("/console/aging/", {"currency": "USD", "as_of": "2026-11-19"})
    now = ops.get("/console/aging/", {"currency": "USD"})

    assert _client_ids(then.content.decode(), "USD") == [c.pk for c in usd]
    assert _client_ids(now.content.decode(), "USD") == [c.pk for c in usd[1:]]
    html = then.content.decode()
    assert "at the end of Nov 19, 2026" in html
    link = f'href="/console/invoices/?client={paid.pk}&amp;aging=1_30&amp;as_of=2026-11-19"'
    assert link in html


def test_the_aging_pages_links_keep_the_currency_and_the_day(ops, owing, monkeypatch):
    usd, _ = owing
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)

    first = ops.get("/console/aging/", {"currency": "USD", "as_of": "2026-11-19"})
    following = _href(first.content.decode(), "next")
    assert following and following.startswith("?currency=USD&as_of=2026-11-19&cursor=")
    second = ops.get("/console/aging/" + following)

    assert _client_ids(second.content.decode(), "USD") == [c.pk for c in usd[2:4]]
    assert _href(second.content.decode(), "prev")


def test_a_day_to_come_is_refused_on_the_aging_page_and_today_shown(ops, owing):
    response = ops.get("/console/aging/", {"currency": "USD", "as_of": "2026-11-26"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="as_of-error"' in html and "Choose today (November 25, 2026)" in html
    assert response.context["page"].as_of == date(2026, 11, 25)
    assert len(_client_ids(html, "USD")) == 5


def test_nothing_owed_says_so_on_the_aging_page(ops, acme):
    response = ops.get("/console/aging/")

    assert response.status_code == 200
    assert "No client owed anything at the end of Nov 25, 2026" in response.content.decode()

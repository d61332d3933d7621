"""The operator's overview in Chromium: the figures against the scenario's ledger worked
out by hand, the aging by client and its as-of form, the whole aging on a page of its
own, and a work queue's link."""

import re
from datetime import timedelta

from playwright.sync_api import expect

from tally.invoicing.models import Invoice
from tally.money import format_money
from tally.portal.formatting import day
from tally.portal.queries import aging
from tests.browser.conftest import session_cookie
from tests.browser.helpers import usd
from tests.browser.test_console_disputes import console_shot


def test_the_overview_shows_the_ledger_and_the_aging_as_of_a_day(portal, new_context, live_server):
    # The ledger by hand: Acme's invoices by the status the scenario gave each, and
    # Globex's three, open and not yet due, the oldest under an open dispute.
    acme = {inv.display_number: inv for inv in portal.invoices}
    status = portal.expected_status
    globex = list(Invoice.objects.filter(client=portal.globex).order_by("number"))

    def owed(*statuses: str) -> list[Invoice]:
        return [acme[n] for n, s in status.items() if s in statuses]

    outstanding = owed("open", "overdue", "partially_paid", "disputed") + globex
    overdue = owed("overdue")
    disputed = owed("disputed") + globex[:1]

    ops = new_context()
    ops.add_cookies([session_cookie(portal.operator, live_server.url)])
    page = ops.new_page()
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")

    block = page.locator('section[data-currency="USD"]')
    for name, invoices in (
        ("outstanding", outstanding),
        ("overdue", overdue),
        ("disputed", disputed),
    ):
        card = block.locator(f'[data-figure="{name}"]')
        expect(card.locator(".card-value")).to_have_text(
            usd(sum(i.balance_minor for i in invoices))
        )
        expect(card.locator(".card-note")).to_contain_text(f"{len(invoices)} ")
    queues = page.locator('section[aria-labelledby="queues-heading"]')
    # Both open disputes have the operator's word last: none waits for an answer.
    expect(queues.locator('[data-figure="disputes"] .card-value')).to_have_text("0")

    def aging_row(client_id: int):
        return page.locator(f'table.aging[data-currency="USD"] tr[data-client="{client_id}"]')

    def expect_aging(client_id: int, day) -> None:
        for bucket in aging(client_id, day).buckets:
            cell = aging_row(client_id).locator(f'td[data-bucket="{bucket.key}"]')
            expect(cell).to_have_text(usd(bucket.balance_minor) if bucket.invoice_count else "–")

    expect_aging(portal.acme.pk, portal.today)
    expect_aging(portal.globex.pk, portal.today)
    console_shot(page, "console-overview")

    # A day to come is refused next to the field; the aging stays at today.
    page.get_by_label("As of").fill((portal.today + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Show").click()
    error = page.locator("#as_of-error")
    expect(error).to_contain_text("or an earlier day")
    expect(page.get_by_label("As of")).to_have_attribute("aria-invalid", "true")
    console_shot(page, "console-overview-future-day")

    # Sixty days back: what was owed then (payments since then not yet received).
    earlier = portal.today - timedelta(days=60)
    page.get_by_label("As of").fill(earlier.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{live_server.url}/console/?as_of={earlier.isoformat()}#aging")
    expect(page.locator("#as_of-error")).to_have_count(0)
    expect_aging(portal.acme.pk, earlier)
    expect(aging_row(portal.globex.pk)).to_have_count(0)  # nothing issued yet
    console_shot(page, "console-overview-earlier-day")

    # A figure opens the invoices behind it: Acme's over 90 days as of that day.
    over_90 = next(b for b in aging(portal.acme.pk, earlier).buckets if b.key == "over_90")
    aging_row(portal.acme.pk).locator('td[data-bucket="over_90"] a').click()
    expect(page).to_have_url(re.compile(r"/console/invoices/\?client=\d+&aging=over_90&as_of="))
    listed = page.locator("tr[data-invoice]")
    expect(listed).to_have_count(min(over_90.invoice_count, 50))
    # Each balance as it stood that day, and the total the figure showed.
    expect(page.locator("table.console-invoices thead")).to_contain_text(
        f"Balance on {day(earlier)}"
    )
    expect(page.locator("#invoices-summary")).to_contain_text(
        f"owed at the end of {day(earlier)} {format_money(over_90.balance_minor, 'USD')}"
    )
    console_shot(page, "console-overview-aging-invoices")
    page.go_back()

    # The whole table, a page of its own, as of the same day: most owed first.
    page.locator('[data-aging-all="USD"]').click()
    expect(page).to_have_url(
        f"{live_server.url}/console/aging/?currency=USD&as_of={earlier.isoformat()}"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Aging by client in USD")
    expect(page.get_by_label("As of")).to_have_value(earlier.isoformat())
    expect_aging(portal.acme.pk, earlier)
    expect(aging_row(portal.globex.pk)).to_have_count(0)
    console_shot(page, "console-aging")
    page.go_back()

    # A work queue opens its list.
    queues.locator('[data-figure="disputes"]').click()
    expect(page).to_have_url(f"{live_server.url}/console/disputes/")

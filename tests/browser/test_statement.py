"""The statement of account in Chromium: from the nav, a range that is refused with its
error on the field, the statement of a range, its PDF, and at phone width."""

import io
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect
from pypdf import PdfReader

from tally.portal.queries import stat_cards, statement
from tests.browser.helpers import no_horizontal_scroll, shot, usd
from tests.browser.scenario import Scenario


def test_a_statement_from_the_nav_with_its_errors_and_its_pdf(portal: Scenario, page):
    today = portal.today
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Statement").click()
    page.wait_for_url("**/reports/statement/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Statement of account")
    # The last three months by default; today's closing balance is what the billing page
    # says is owed less the credit on the account.
    cards = stat_cards(portal.acme.pk, today)
    closing = page.locator("section.statement .statement-summary .closing dd")
    expect(closing).to_have_text(usd(cards.outstanding_minor - cards.unapplied_credit_minor))
    expect(page.locator("table.statement-entries tfoot td").last).to_have_text(
        usd(cards.outstanding_minor - cards.unapplied_credit_minor)
    )
    shot(page, portal, "statement")

    # A range given backwards: the error sits on "To", which says so to a screen reader.
    page.get_by_label("From").fill(today.isoformat())
    page.get_by_label("To").fill((today - timedelta(days=10)).isoformat())
    page.get_by_role("button", name="Show").click()
    to = page.get_by_label("To")
    expect(to).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#end-error")).to_have_text("“To” must not be before “From”.")
    expect(to).to_have_attribute("aria-describedby", "end-error")
    expect(page.get_by_label("From")).to_have_value(today.isoformat())  # nothing lost
    expect(page.locator("section.statement")).to_have_count(0)
    shot(page, portal, "statement-error")

    # Sixty days: every entry of the range, each with the balance after it.
    start = today - timedelta(days=60)
    page.get_by_label("From").fill(start.isoformat())
    page.get_by_label("To").fill(today.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/reports/statement/?start={start}&end={today}")
    expected = statement(portal.acme.pk, start, today).currencies[0]
    entries = page.locator("table.statement-entries tbody tr:not(.opening)")
    expect(entries).to_have_count(len(expected.entries))
    assert len(expected.entries) >= 8
    expect(entries.locator("td:last-child")).to_have_text(
        [usd(e.balance_minor) for e in expected.entries]
    )
    expect(page.locator("tr.opening td").last).to_have_text(usd(expected.opening_minor))

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == f"statement-acme-{start}-{today}.pdf"
    path = download.value.path()
    assert path is not None
    pdf = PdfReader(io.BytesIO(Path(path).read_bytes()))
    text = " ".join(p.extract_text() for p in pdf.pages).replace("\xa0", " ")
    assert "STATEMENT" in text and f"Closing balance {usd(expected.closing_minor)}" in text
    for entry in expected.entries:
        assert entry.document in text


def test_a_statement_at_phone_width_cuts_no_money(portal: Scenario, new_context, live_server):
    from tests.browser.conftest import session_cookie

    context = new_context(viewport={"width": 390, "height": 844})
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    page.goto("/reports/statement/")
    scroll_width, inner_width = no_horizontal_scroll(page)
    assert scroll_width <= inner_width  # nothing runs off the page
    amounts = page.locator(
        ".statement-summary dd:visible, table.statement-entries td.num:visible"
    ).all()
    assert len(amounts) > 30
    for amount in amounts:
        box = amount.bounding_box()
        assert box is not None and box["x"] + box["width"] <= inner_width, amount.inner_text()
    shot(page, portal, "statement-phone")

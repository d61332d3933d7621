"""The AR aging report: bucket totals from the data, and each bucket links to its invoices."""

import re

from playwright.sync_api import expect

from tally.portal.queries import AGING_BUCKETS, aging
from tests.browser.helpers import csv_rows, expected_order, rows, shot, usd
from tests.browser.scenario import Scenario


def expected_buckets(portal: Scenario) -> dict[str, list]:
    """Bucket → Acme's invoices in it today, worked out from the data as built."""
    buckets: dict[str, list] = {key: [] for key, *_ in AGING_BUCKETS}
    for inv in portal.invoices:
        if inv.status in ("void", "paid") or inv.balance_minor <= 0:
            continue
        days = (portal.today - inv.due_date).days
        key = next(
            k
            for k, _, low, high in AGING_BUCKETS
            if (low is None or days >= low) and (high is None or days <= high)
        )
        buckets[key].append(inv)
    return buckets


def test_aging_shows_bucket_totals_and_a_bucket_link_filters_the_table(portal, page):
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="AR aging").click()
    page.wait_for_url("**/reports/aging/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounts receivable aging")
    buckets = expected_buckets(portal)
    report = aging(portal.acme.pk, portal.today)
    assert {b.key: sorted(b.invoice_ids) for b in report.buckets} == {
        key: sorted(inv.pk for inv in invs) for key, invs in buckets.items()
    }
    assert sum(len(v) for v in buckets.values()) >= 10 and len(buckets["over_90"]) > 0

    body_rows = page.locator("table.aging tbody tr")
    expect(body_rows).to_have_count(len(AGING_BUCKETS))
    for i, (key, label, *_) in enumerate(AGING_BUCKETS):
        invs = buckets[key]
        cells = body_rows.nth(i)
        expect(cells.locator("th")).to_have_text(label)
        expect(cells.locator("td").nth(0)).to_have_text(str(len(invs)))
        expect(cells.locator("td").nth(1)).to_have_text(usd(sum(v.balance_minor for v in invs)))
    total = sum(inv.balance_minor for invs in buckets.values() for inv in invs)
    expect(page.locator("table.aging tfoot td").nth(1)).to_have_text(usd(total))
    shot(page, portal, "aging")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    csv = csv_rows(download.value)
    assert csv[0] == ["As of", "Days past due", "Invoices", "Balance", "Currency"]
    assert [r[1:3] for r in csv[1:]] == [
        *[[label, str(len(buckets[key]))] for key, label, *_ in AGING_BUCKETS],
        ["Total", str(sum(len(v) for v in buckets.values()))],
    ]

    # Following a bucket shows exactly its invoices in the billing table.
    key, label = "31_60", "31–60 days"
    page.get_by_role("link", name=label).click()
    page.wait_for_url(re.compile(rf"\?bucket={key}&as_of={portal.today.isoformat()}$"))
    wanted = {inv.display_number for inv in buckets[key]}
    assert wanted
    expect(rows(page)).to_have_text(expected_order(portal, only=wanted))
    # The table says what it is narrowed to, and how to see everything again.
    notice = page.locator(".active-filter")
    expect(notice).to_contain_text("invoices 31–60 days past due as of")
    shot(page, portal, "aging-bucket-table")
    notice.get_by_role("link", name="Show all invoices").click()
    expect(page.locator(".active-filter")).to_have_count(0)
    expect(rows(page)).to_have_count(min(25, len(portal.invoices)))
    assert "bucket=" not in page.url

    # A bucket as of an earlier day: the report moves with the date.
    page.goto("/reports/aging/")
    page.get_by_label("As of").fill(portal.invoices[-1].issue_date.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"as_of="))
    expect(page.locator("table.aging tfoot td").nth(0)).to_have_text("1")
    expect(page.get_by_role("link", name="Today")).to_be_visible()


def test_a_bucket_of_a_past_day_shows_what_each_invoice_owed_then(portal, page):
    """Twenty-one days ago the overdue, part-paid invoice owed all of it (the 1.00 came
    the next day); the bucket's list shows that, not today's balance."""
    from datetime import timedelta

    inv = portal.roles.overdue_partial
    inv.refresh_from_db()
    day = portal.today - timedelta(days=21)
    page.goto(f"/reports/aging/?as_of={day.isoformat()}")
    page.get_by_role("link", name="1–30 days").click()
    page.wait_for_url(re.compile(rf"\?bucket=1_30&as_of={day.isoformat()}$"))
    expect(page.locator(".active-filter")).to_contain_text("the balance it had at the end of")
    row = page.locator(f"#invoice-{inv.display_number} tr").first
    expect(row.locator("td.num").last).to_have_text(usd(inv.total_minor))
    assert inv.balance_minor == inv.total_minor - 100
    expect(page.get_by_role("columnheader", name=re.compile("Balance on"))).to_be_visible()
    shot(page, portal, "aging-bucket-past-day")

    # A day to come is refused next to the field; the report stays at today.
    page.goto("/reports/aging/")
    page.get_by_label("As of").fill((portal.today + timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Show").click()
    error = page.locator("#as_of-error")
    expect(error).to_contain_text("or an earlier day")
    expect(page.get_by_label("As of")).to_have_attribute("aria-invalid", "true")
    shot(page, portal, "aging-day-to-come")

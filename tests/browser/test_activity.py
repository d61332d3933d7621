"""The activity page in Chromium: charts, their numbers, and the charges accrued so far, at
desktop and phone width, with and without JavaScript."""

import re
from datetime import timedelta

from django.db import transaction
from playwright.sync_api import expect

from tests.browser.conftest import session_cookie
from tests.browser.helpers import shot, usd
from tests.factories import add_events

PHONE = {"width": 390, "height": 844}


def _this_month(portal):
    """Unbilled events of this month: 60 picks today, 4 labels on the 1st."""
    with transaction.atomic():
        add_events(portal.acme, "pick", 60, day=portal.today, prefix="NOW", quantity=2)
        add_events(portal.acme, "label", 4, day=portal.today.replace(day=1), prefix="FIRST")
    # 120 × 0.35 and 4 × 0.045.
    return {"pick": 4200, "label": 18}


def _open(new_context, portal, live_server, **options):
    context = new_context(**options)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    page.goto("/activity/")
    return page


def _estimate_rows(page):
    return page.locator("table.estimate-lines tbody tr")


def test_the_activity_page_charts_the_month_and_estimates_the_charges(
    portal, new_context, live_server
):
    amounts = _this_month(portal)
    page = _open(new_context, portal, live_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Activity and charges so far")
    expect(page.locator(".estimate-note")).to_contain_text("Estimate — not an invoice.")
    rows = _estimate_rows(page)
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Shipping labels at 0.0450 USD")
    expect(rows.nth(0).locator("td.money")).to_have_text(usd(amounts["label"]))
    expect(rows.nth(1)).to_contain_text("Picks at 0.3500 USD")
    expect(rows.nth(1).locator("td.num").first).to_have_text("120")
    expect(page.locator("table.estimate-lines tfoot")).to_contain_text(usd(4218))
    # Eight charts, each an image named by its title and described in words.
    expect(page.locator("figure.chart svg[role=img]")).to_have_count(8)
    picks = page.get_by_role("img", name="Picks per day")
    expect(picks).to_be_visible()
    # A bar per day with picks: today's, and the days of the invoices billed this month.
    titles = [t.text_content() for t in picks.locator("rect.chart-bar title").all()]
    assert titles[-1] == f"{portal.today:%b} {portal.today.day}: 120", titles
    assert len(titles) > 1, "the billed days of this month are activity too"
    # The numbers behind the charts, a click away.
    numbers = page.locator("details.chart-numbers").first
    numbers.locator("summary").click()
    today_row = numbers.locator("tbody tr").last
    expect(today_row.locator("td").first).to_have_text("120")
    shot(page, portal, "activity-desktop")

    # A line drills to its events, paged in place by htmx.
    rows.nth(1).get_by_role("link", name=re.compile(r"^60 events")).click()
    page.wait_for_url("**/activity/charges/pick-350000/events/")
    references = page.locator("table.events tbody tr td:nth-child(3)")
    expect(references).to_have_count(50)
    expect(references.first).to_have_text("REF-NOW-0")
    page.get_by_role("link", name="Later events").click()
    expect(references).to_have_count(10)
    expect(references.first).to_have_text("REF-NOW-50")
    assert "cursor" not in page.url  # swapped in place
    shot(page, portal, "activity-line-events")


def test_at_phone_width_nothing_is_cut_off(portal, new_context, live_server):
    _this_month(portal)
    page = _open(new_context, portal, live_server, viewport=PHONE)
    expect(_estimate_rows(page)).to_have_count(2)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 390 px screen"
    for cell in page.locator("table.estimate-lines td.money").all():
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    chart = page.locator("figure.chart").first.bounding_box()
    assert chart is not None and chart["width"] <= PHONE["width"]
    shot(page, portal, "activity-phone")


def test_without_javascript_the_page_its_numbers_and_the_events_work(
    portal, new_context, live_server
):
    _this_month(portal)
    page = _open(new_context, portal, live_server, java_script_enabled=False)
    expect(page.locator("figure.chart svg[role=img]")).to_have_count(8)
    monthly = page.locator("details.chart-numbers").nth(1)
    monthly.locator("summary").click()
    months = monthly.locator("tbody tr")
    expect(months).to_have_count(12)
    expect(months.last.locator("th")).to_contain_text("(so far)")
    # Last month's events were billed, and still count as activity.
    last_month = (portal.today.replace(day=1) - timedelta(days=1)).strftime("%B %Y")
    expect(months.nth(10).locator("th")).to_have_text(last_month)
    shot(page, portal, "activity-nojs")
    _estimate_rows(page).nth(1).get_by_role("link").click()
    page.wait_for_url("**/activity/charges/pick-350000/events/")
    page.get_by_role("link", name="Later events").click()
    page.wait_for_url(re.compile(r"cursor="))
    expect(page.locator("table.events tbody tr")).to_have_count(10)

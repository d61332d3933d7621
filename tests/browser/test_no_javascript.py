"""With JavaScript off, every control still works: forms and links load the next state."""

import re

from playwright.sync_api import expect

from tally.disputes.models import DisputeMessage
from tests.browser.conftest import session_cookie
from tests.browser.helpers import expected_order, rows, shot
from tests.browser.test_drilldown import line_references


def test_without_javascript_expand_sort_page_filter_and_reply_all_work(
    portal, new_context, live_server
):
    context = new_context(java_script_enabled=False)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    page.goto("/")
    everything = expected_order(portal)
    expect(rows(page)).to_have_text(everything[:25])

    # Expanding is a form button that reloads the page with ?open=.
    big = portal.roles.big.display_number
    page.locator(f"#invoice-{big} button.expand").click()
    page.wait_for_url(re.compile(rf"\?open={big}$"))
    expect(page.locator(f"#invoice-{big} button.expand")).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#detail-{big}")).to_be_visible()
    expect(page.locator(f"#detail-{big} table.lines tbody.line")).to_have_count(2)
    shot(page, portal, "nojs-expanded")

    # A line's events: the link opens their own page, paged by links.
    line_id, references = line_references(portal.roles.big, "pick")
    page.locator(f'#detail-{big} a.expand[aria-controls="events-{line_id}"]').click()
    page.wait_for_url(f"**/invoices/{big}/lines/{line_id}/events/")
    refs = page.locator("table.events tbody tr td:nth-child(3)")
    expect(refs).to_have_text(references[:50])
    page.get_by_role("link", name="Later events").click()
    page.wait_for_url(re.compile(r"cursor="))
    expect(refs).to_have_text(references[50:100])
    shot(page, portal, "nojs-line-events")

    # Sorting by a header link, then paging by the pager links.
    page.goto("/")
    page.locator("table.invoices thead").get_by_role("link", name=re.compile("^Total")).click()
    page.wait_for_url(re.compile(r"\?sort=amount&dir=desc$"))
    expect(page.locator("table.invoices thead th", has_text="Total")).to_have_attribute(
        "aria-sort", "descending"
    )
    by_amount = expected_order(portal, "amount", True)
    expect(rows(page)).to_have_text(by_amount[:25])
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r"sort=amount&dir=desc&cursor="))
    expect(rows(page)).to_have_text(by_amount[25:])
    shot(page, portal, "nojs-sorted-page-2")
    page.get_by_role("link", name="Previous page").click()
    expect(rows(page)).to_have_text(by_amount[:25])

    # Filters are a plain GET form.
    page.get_by_label("Status").select_option("paid")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"status=paid"))
    expect(rows(page)).to_have_text(
        expected_order(portal, "amount", True, only=portal.numbers_with_status("paid"))
    )

    # Replying in a dispute posts the form and comes back to the invoice's page.
    disputed = portal.roles.disputed.display_number
    page.goto(f"/?open={disputed}")
    page.get_by_label("Your message").fill("Replying without JavaScript.")
    page.get_by_role("button", name="Send message").click()
    page.wait_for_url(f"**/invoices/{disputed}/")
    expect(page.locator(".conversation li p").last).to_have_text("Replying without JavaScript.")
    assert DisputeMessage.objects.filter(body="Replying without JavaScript.").count() == 1
    shot(page, portal, "nojs-dispute-reply")

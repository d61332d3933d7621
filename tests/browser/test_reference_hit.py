"""A search by an event's reference opens the invoice at that event: its line expanded
at the page holding it, the event highlighted and in view; and a line's events can be
searched by reference. With JavaScript and without."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import session_cookie
from tests.browser.helpers import shot
from tests.browser.test_drilldown import line_references


def test_a_reference_search_opens_the_line_at_the_matching_event(portal, page):
    big = portal.roles.big.display_number
    line_id, references = line_references(portal.roles.big, "pick")
    wanted = references[79]  # on the second page of 50 from the line's start
    page.goto("/")
    search = page.get_by_label("Invoice number or reference")
    search.fill(wanted)
    search.press("Enter")
    page.wait_for_url(re.compile(rf"q={wanted}"))
    expect(page.locator(f"#detail-{big}")).to_be_visible()
    events = page.locator(f"#line-events-{line_id}")
    expect(events).to_be_visible()
    expect(page.locator(f'a.expand[aria-controls="events-{line_id}"]')).to_have_attribute(
        "aria-expanded", "true"
    )
    refs = events.locator("table.events tbody tr td:nth-child(3)")
    expect(refs).to_have_text(references[79:])  # the page starts at the event
    match = events.locator("tr[aria-current=true]")
    expect(match).to_have_count(1)
    expect(match.locator("td").nth(2)).to_have_text(wanted)
    page.wait_for_function(
        """() => { const r = document.querySelector('tr.event-match').getBoundingClientRect();
                   return r.top >= 0 && r.bottom <= window.innerHeight; }"""
    )
    shot(page, portal, "reference-hit")
    # The pages around it page as usual.
    events.get_by_role("link", name="Earlier events").click()
    expect(refs).to_have_text(references[29:79])

    # Within the line: find another reference.
    line = page.locator(f"#line-events-{line_id}")
    line.get_by_label("Find a reference in this line").fill(references[5])
    line.get_by_role("button", name="Find").click()
    expect(refs).to_have_text(references[5:55])
    expect(line.locator("tr[aria-current=true] td").nth(2)).to_have_text(references[5])
    line.get_by_label("Find a reference in this line").fill("NOTHING-LIKE-IT")
    line.get_by_role("button", name="Find").click()
    expect(line.locator(".field-error")).to_have_text(
        "No event of this line has a reference starting with “NOTHING-LIKE-IT”."
    )
    shot(page, portal, "line-search-none")


def test_without_javascript_a_reference_search_opens_the_line_at_the_event(
    portal, new_context, live_server
):
    context = new_context(java_script_enabled=False)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    big = portal.roles.big.display_number
    line_id, references = line_references(portal.roles.big, "pick")
    wanted = references[99]
    page.goto("/")
    page.get_by_label("Invoice number or reference").fill(wanted)
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(rf"q={wanted}"))
    events = page.locator(f"#detail-{big} #line-events-{line_id}")
    refs = events.locator("table.events tbody tr td:nth-child(3)")
    expect(refs).to_have_text(references[99:])
    expect(events.locator("tr[aria-current=true] td").nth(2)).to_have_text(wanted)
    page.get_by_role("link", name="Go to the event").click()
    page.wait_for_url(re.compile(r"#event-\d+$"))
    box = page.locator("tr.event-match").bounding_box()
    assert box and -2 <= box["y"] <= 900 - box["height"], box
    shot(page, portal, "nojs-reference-hit")

    # The line's own page: find by reference, a plain GET form.
    page.goto(f"/invoices/{big}/lines/{line_id}/events/")
    page.get_by_label("Find a reference in this line").fill(references[60])
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(re.compile(r"\?q="))
    expect(page.locator("table.events tbody tr td:nth-child(3)")).to_have_text(references[60:110])
    expect(page.locator("tr[aria-current=true] td").nth(2)).to_have_text(references[60])

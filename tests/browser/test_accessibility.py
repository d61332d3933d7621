"""Keyboard-only use, focus visibility, and a phone-sized screen."""

import re

from playwright.sync_api import Page, expect

from tests.browser.helpers import expected_order, no_horizontal_scroll, rows, shot
from tests.browser.scenario import Scenario

FOCUS_STYLE = """() => {
  const s = getComputedStyle(document.activeElement);
  return {style: s.outlineStyle, width: parseFloat(s.outlineWidth)};
}"""


def tab_until(page: Page, selector: str, limit: int = 80) -> int:
    """Press Tab until the focused element matches `selector`; how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"{selector} never took the focus in {limit} presses of Tab")


def assert_focus_visible(page: Page) -> None:
    focus = page.evaluate(FOCUS_STYLE)
    assert focus["style"] != "none" and focus["width"] > 0, focus


def test_keyboard_only_expands_rows_and_line_events_with_a_visible_focus(portal, page):
    page.goto("/")
    first = expected_order(portal)[0]
    tab_until(page, "table.invoices button.expand")
    button = page.locator(f"#invoice-{first} button.expand")
    expect(button).to_be_focused()
    assert_focus_visible(page)
    shot(page, portal, "keyboard-focus")

    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#detail-{first}")).to_be_visible()
    page.keyboard.press("Space")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(page.locator(f"#detail-{first}")).to_be_hidden()
    page.keyboard.press("Space")
    expect(button).to_have_attribute("aria-expanded", "true")

    # Into the drilldown: the line's events open with Space on its link-styled button.
    tab_until(page, f"#detail-{first} a.expand[data-expand]")
    assert_focus_visible(page)
    events_button = page.locator(f"#detail-{first} a.expand[data-expand]").first
    page.keyboard.press("Space")
    expect(events_button).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#detail-{first} table.events tbody tr").first).to_be_visible()
    page.keyboard.press("Enter")
    expect(events_button).to_have_attribute("aria-expanded", "false")
    shot(page, portal, "keyboard-drilldown")


def test_keyboard_only_filters_by_status_and_search_and_submits_with_enter(portal: Scenario, page):
    target = portal.roles.overdue_partial.display_number
    page.goto("/")
    tab_until(page, "#id_status")
    assert_focus_visible(page)
    page.keyboard.type("Ov")  # type-ahead picks "Overdue"
    expect(page.locator("#id_status")).to_have_value("overdue")
    page.wait_for_url(re.compile(r"status=overdue"))
    expect(rows(page)).to_have_text(
        expected_order(portal, only=portal.numbers_with_status("overdue"))
    )

    tab_until(page, "#id_q")
    assert_focus_visible(page)
    page.keyboard.type(target)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"status=overdue.*q={target}"))
    expect(rows(page)).to_have_text([target])
    tab_until(page, "form.filters button[type=submit]")
    assert_focus_visible(page)
    shot(page, portal, "keyboard-filters")


PHONE = {"width": 375, "height": 812}


def assert_fits_the_phone(page: Page, what: str) -> None:
    scroll_width, inner_width = no_horizontal_scroll(page)
    assert scroll_width <= inner_width, f"{what}: the page scrolls sideways ({scroll_width}px)"
    # Whatever is wider than the screen scrolls inside its table wrapper, not the page.
    # What is clipped to nothing (headers kept for screen readers only) is not seen.
    overflowing = page.evaluate(
        """() => {
          const clipped = (el) => {
            for (let a = el; a; a = a.parentElement) {
              const s = getComputedStyle(a);
              if (s.position === 'absolute' && s.clip !== 'auto') return true;
            }
            return false;
          };
          return Array.from(document.querySelectorAll('body *'))
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(el => !el.closest('.table-wrap') && !el.matches('.skip-link') && !clipped(el))
            .map(el => el.tagName + '.' + el.className);
        }"""
    )
    assert not overflowing, f"{what}: wider than the screen outside a table wrapper: {overflowing}"


def test_at_phone_width_nothing_but_the_tables_scrolls_sideways(portal, new_context, live_server):
    from tests.browser.conftest import session_cookie

    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    page.goto("/")
    expect(rows(page)).to_have_count(25)
    assert_fits_the_phone(page, "billing")
    wrap = page.locator("#invoice-table .table-wrap")
    assert wrap.evaluate("el => getComputedStyle(el).overflowX") == "auto"
    # What is owed and by when fits the screen without scrolling the table sideways.
    first = page.locator("table.invoices tbody.invoice > tr:first-child").first
    for column in ("Invoice", "Status", "Balance"):
        header = page.locator("table.invoices thead th", has_text=column).first
        box = header.bounding_box()
        assert box and box["x"] + box["width"] <= PHONE["width"], f"{column} is off-screen"
    balance = first.locator("td").nth(-1).bounding_box()
    assert balance and balance["x"] + balance["width"] <= PHONE["width"]
    due = portal.invoices[0].due_date  # the newest invoice's, issued yesterday
    expect(first.locator(".due-note")).to_have_text(f"due {due:%b} {due.day}, {due.year}")
    shot(page, portal, "phone-billing")

    big = portal.roles.big.display_number
    page.locator(f"#invoice-{big} button.expand").click()
    expect(page.locator(f"#detail-{big}")).to_be_visible()
    pick_line = portal.roles.big.lines.get(kind="pick")
    page.locator(f'#detail-{big} a.expand[aria-controls="events-{pick_line.pk}"]').click()
    expect(page.locator(f"#detail-{big} table.events tbody tr")).to_have_count(50)
    assert_fits_the_phone(page, "billing with a drilldown open")
    shot(page, portal, "phone-expanded")

    for url, name in (
        (f"/invoices/{portal.roles.disputed.display_number}/", "phone-invoice"),
        ("/reports/aging/", "phone-aging"),
        ("/payments/", "phone-payments"),
        (f"/?open={portal.roles.disputed.display_number}", "phone-open-no-js-style"),
    ):
        page.goto(url)
        assert_fits_the_phone(page, url)
        shot(page, portal, name)


def test_a_keyboard_user_skips_the_filters_straight_to_the_table(portal, page):
    page.goto("/")
    tab_until(page, "form.filters .skip-link")
    skip = page.locator("form.filters .skip-link")
    expect(skip).to_be_in_viewport()  # hidden off-screen until it has the focus
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator("#invoice-table")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('#invoice-table') !== null")


def test_on_a_phone_the_filters_fold_away_until_asked_for(portal, new_context, live_server):
    from tests.browser.conftest import session_cookie

    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    page.goto("/")
    summary = page.locator("details.filter-panel > summary")
    expect(page.locator("#id_status")).to_be_hidden()
    expect(summary).to_have_text("Filters")
    folded = page.locator("#invoice-table").bounding_box()
    shot(page, portal, "phone-filters-folded")

    summary.click()
    expect(page.locator("#id_status")).to_be_visible()
    unfolded = page.locator("#invoice-table").bounding_box()
    assert folded and unfolded and unfolded["y"] - folded["y"] > 300, (folded, unfolded)
    page.select_option("#id_status", "overdue")
    expect(summary).to_have_text("Filters · 1 active")
    page.wait_for_url(re.compile(r"status=overdue"))

    # Opened with filters set, they stay open and say how many.
    page.goto(f"/?status=overdue&q={portal.roles.overdue_partial.display_number}")
    expect(page.locator("#id_q")).to_be_visible()
    expect(summary).to_have_text("Filters · 2 active")
    assert_fits_the_phone(page, "billing with its filters open")

    # Narrowed to an aging bucket (a hidden filter, from the aging report): not folded.
    page.goto("/?bucket=1_30")
    expect(page.locator("#id_status")).to_be_visible()


def test_on_a_wide_screen_the_filters_stay_open(portal, page):
    page.goto("/")
    expect(page.locator("#id_status")).to_be_visible()
    expect(page.locator("details.filter-panel")).to_have_attribute("open", "")

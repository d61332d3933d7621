"""At phone width (390 px) money is never cut or broken: every amount on the billing page,
in an invoice's drilldown and among a line's events is on one line, and either on screen
or inside a table region that scrolls sideways, is focusable and has a name. An invoice's
line items stack instead of scrolling: every line's amount and every total is on screen.
No date in a table breaks in the middle. A region says that it scrolls exactly when its
table is wider than it, at any width: never on a desktop, where the tables fit."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import session_cookie
from tests.browser.helpers import ARTIFACTS, shot
from tests.browser.test_drilldown import line_references

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Each element whose own text is an amount ($1,234.56) or a count in a numeric cell, with
# where it is: on screen, or in which labelled scroll region, and whether it is one line.
_MONEY = r"""
() => {
  const amount = /^[−-]?\$[0-9,]+(\.[0-9]+)?$/;
  const found = [];
  for (const el of document.querySelectorAll("main *")) {
    if (el.closest(".visually-hidden, [hidden]") || el.offsetParent === null) continue;
    const own = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
    const numeric = el.matches("td.num") && own !== "";
    if (!amount.test(own) && !numeric) continue;
    // The text itself, not its cell (a cell is as tall as its row).
    const range = document.createRange();
    range.selectNodeContents(el);
    const box = range.getBoundingClientRect();
    const line = parseFloat(getComputedStyle(el).fontSize) * 1.6;
    const scroller = el.closest(".table-wrap");
    found.push({
      text: own,
      oneLine: box.height <= line,
      onScreen: box.left >= -0.5 && box.right <= window.innerWidth + 0.5,
      region: scroller ? {
        label: scroller.getAttribute("aria-label") || "",
        role: scroller.getAttribute("role") || "",
        focusable: scroller.tabIndex === 0,
        scrolls: getComputedStyle(scroller).overflowX === "auto",
        inside: box.left >= scroller.getBoundingClientRect().left - 0.5,
      } : null,
    });
  }
  return found;
}
"""


def assert_money_whole(page: Page, where: str) -> int:
    found = page.evaluate(_MONEY)
    assert found, f"{where}: no amount found"
    for item in found:
        assert item["oneLine"], f"{where}: {item['text']} wraps"
        if item["onScreen"]:
            continue
        region = item["region"]
        assert region, f"{where}: {item['text']} is off-screen outside a scroll region"
        assert region["role"] == "region" and region["label"], f"{where}: unnamed region"
        assert region["focusable"] and region["scrolls"], f"{where}: region not scrollable"
        assert region["inside"], f"{where}: {item['text']} cut at the region's start"
    return len(found)


# Every table region of the page: its name, whether its table is wider than it, and
# whether the hint before it ("The table scrolls sideways") can be seen.
_REGIONS = r"""
() => Array.from(document.querySelectorAll("main .table-wrap"))
  .filter(wrap => wrap.checkVisibility())
  .map(wrap => {
    const hint = wrap.previousElementSibling;
    const seen = (el) => !!el && el.matches(".scroll-hint")
      && el.checkVisibility({visibilityProperty: true}) && el.getBoundingClientRect().height > 0;
    return {
      label: wrap.getAttribute("aria-label") || wrap.className,
      role: wrap.getAttribute("role") || "",
      focusable: wrap.tabIndex === 0,
      wider: wrap.scrollWidth > wrap.clientWidth,
      hinted: seen(hint),
    };
  })
"""


def settle(page: Page) -> None:
    """Let two frames pass: a scroll timeline's state, which shows a hint, is taken once a
    frame, so a hint follows a change of layout (a load, an htmx swap, a resize) a frame
    later."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def regions_hinted_when_wider(page: Page, where: str, *, some: bool = True) -> list[dict]:
    """Every table region is named and focusable, and shows its hint if, and only if, its
    table is wider than it (and, unless `some` is false, the page has one)."""
    settle(page)
    regions = page.evaluate(_REGIONS)
    assert regions or not some, f"{where}: no table region"
    for region in regions:
        name = region["label"]
        assert region["role"] == "region" and region["focusable"], f"{where}: {name}"
        if region["wider"]:
            assert region["hinted"], f"{where}: {name} scrolls without saying so"
        else:
            assert not region["hinted"], f"{where}: {name} fits but says it scrolls"
    return regions


# Every date ("Nov 3, 2026") in a table, and whether it is on one line.
_DATES = r"""
() => {
  const date = /[A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4}/g;
  const found = [];
  const walker = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el.closest("table") || el.closest(".visually-hidden, [hidden]") || !el.checkVisibility()) continue;
    for (const match of node.textContent.matchAll(date)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
      const cell = el.closest("td, th, li, p, div");
      found.push({text: match[0], oneLine: lines.size === 1, where: cell.tagName + "." + cell.className + " " + el.closest("table").className});
    }
  }
  return found;
}
"""


def broken_dates(page: Page) -> tuple[list[str], int]:
    """The dates in the page's tables broken across lines, and how many dates there are."""
    found = page.evaluate(_DATES)
    broken = [f"{item['text']} in {item['where']}" for item in found if not item["oneLine"]]
    return broken, len(found)


def assert_dates_whole(page: Page, where: str) -> int:
    broken, count = broken_dates(page)
    assert count, f"{where}: no date in a table"
    assert not broken, f"{where}: dates broken across lines: {broken}"
    return count


# Each line item, stacked: its description's box and its amount's, and where the amount's
# text ends against the screen and against its cell (a cell narrower than its text cuts it).
_LINES = r"""
(table) => Array.from(table.querySelectorAll(":scope > tbody.line > tr:first-child")).map(row => {
  const text = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return range.getBoundingClientRect();
  };
  const description = row.querySelector(".line-description").getBoundingClientRect();
  const cell = row.querySelector(".line-amount");
  const amount = text(cell);
  const box = cell.getBoundingClientRect();
  return {
    text: cell.textContent.trim(),
    descriptionBottom: description.bottom,
    amountTop: amount.top,
    inView: amount.left >= 0 && amount.right <= window.innerWidth,
    inCell: amount.left >= box.left - 0.5 && amount.right <= box.right + 0.5,
  };
})
"""


def assert_lines_in_view(page: Page, scope: str) -> int:
    """Every line amount and total of the line items in `scope` is whole and on screen,
    with no sideways scrolling: the description sits above the amount."""
    table = page.locator(f"{scope} table.lines")
    expect(table).to_be_visible()
    lines = table.evaluate(_LINES)
    assert lines, f"{scope}: no line items"
    for line in lines:
        assert line["inView"] and line["inCell"], f"{scope}: the line amount {line['text']} is cut"
        assert line["amountTop"] >= line["descriptionBottom"] - 0.5, "not stacked"
    totals = table.locator("tfoot td:not(:empty)")
    for i in range(totals.count()):
        box = totals.nth(i).bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], "a total is cut"
    return len(lines)


def test_at_phone_width_no_amount_is_cut_or_broken(portal, new_context, live_server):
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    page.goto("/")
    cards = page.locator("#cards .card-value")
    expect(cards).to_have_count(4)
    for i in range(4):
        box = cards.nth(i).bounding_box()
        assert box and box["x"] + box["width"] <= PHONE["width"] - 8
    counted = assert_money_whole(page, "billing")
    shot(page, portal, "phone-money-billing")

    big = portal.roles.big.display_number
    page.locator(f"#invoice-{big} button.expand").click()
    detail = page.locator(f"#detail-{big}")
    expect(detail).to_be_visible()
    counted += assert_money_whole(page, "drilldown")
    assert assert_lines_in_view(page, f"#detail-{big}") == portal.roles.big.lines.count()
    detail.screenshot(path=str(ARTIFACTS / "phone-money-drilldown.png"), caret="initial")
    line_id, references = line_references(portal.roles.big, "pick")
    detail.locator(f'a.expand[aria-controls="events-{line_id}"]').click()
    events = page.locator(f"#line-events-{line_id}")
    expect(events.locator("table.events tbody tr")).to_have_count(50)
    link = events.get_by_role("link", name="Download all as CSV")
    box = link.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"], "the CSV link is cut"
    counted += assert_money_whole(page, "line events")
    assert assert_dates_whole(page, "line events") >= 50
    regions = regions_hinted_when_wider(page, "line events")
    assert any(r["wider"] for r in regions), "the events table fits a phone: nothing tested"
    assert any(not r["wider"] for r in regions), "no table fits a phone: nothing tested"
    shot(page, portal, "phone-money-line-events")
    events.locator(".scroll-region").first.screenshot(
        path=str(ARTIFACTS / "phone-money-line-events-table.png"), caret="initial"
    )

    page.goto(f"/invoices/{portal.roles.disputed.display_number}/")
    counted += assert_money_whole(page, "invoice page")
    assert_lines_in_view(page, "main")
    shot(page, portal, "phone-money-invoice")
    page.goto(f"/invoices/{big}/lines/{line_id}/events/")
    counted += assert_money_whole(page, "events page")
    assert_dates_whole(page, "events page")
    regions_hinted_when_wider(page, "events page")
    assert counted > 100


def test_at_desktop_width_no_table_says_it_scrolls_and_a_narrowed_one_does(
    portal, new_context, live_server
):
    """The hint follows the table's width, not the screen's: none at 1280 px, where every
    table fits; the events table's, once the same page is narrowed to a phone's width."""
    context = new_context(viewport=DESKTOP)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    page.goto("/")
    big = portal.roles.big.display_number
    page.locator(f"#invoice-{big} button.expand").click()
    line_id, _ = line_references(portal.roles.big, "pick")
    page.locator(f'#detail-{big} a.expand[aria-controls="events-{line_id}"]').click()
    events = page.locator(f"#line-events-{line_id}")
    expect(events.locator("table.events tbody tr")).to_have_count(50)
    regions = regions_hinted_when_wider(page, "desktop")
    assert len(regions) >= 2 and not any(r["wider"] for r in regions), regions
    expect(page.locator(".scroll-hint").first).to_be_hidden()
    assert_dates_whole(page, "desktop")
    shot(page, portal, "desktop-no-scroll-hint")

    page.set_viewport_size(PHONE)
    hint = events.locator(".scroll-hint")
    expect(hint).to_be_visible()
    regions = regions_hinted_when_wider(page, "narrowed")
    assert any(r["wider"] for r in regions)
    for path in ("/payments/", "/reports/statement/", "/reports/aging/", "/activity/"):
        page.set_viewport_size(DESKTOP)
        page.goto(path)
        for region in page.evaluate(_REGIONS):
            assert not region["wider"] and not region["hinted"], f"{path}: {region}"

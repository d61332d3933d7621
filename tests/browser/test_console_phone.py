"""The operator's console at phone width (390 px): on every main page the page itself
never scrolls sideways, and every amount is on one line and whole — on screen, or inside
a named, focusable table region that scrolls sideways and says so (the portal's pattern,
tests/browser/test_phone_money.py). No date in a table breaks in the middle; an invoice's
and a draft's line items stack as the portal's do. A region says it scrolls exactly when
its table is wider than it: at desktop width, where the tables fit, none does."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tally.console.queries.notices import KINDS
from tally.disputes.models import Dispute
from tally.invoicing.models import BillingRun
from tally.invoicing.services import add_adjustment, start_billing_run
from tally.payments.models import ClientNotice, NoticeKind
from tally.payments.services import ask_to_apply_credit, report_payment
from tests.browser import scenario as scenario_module
from tests.browser.conftest import session_cookie
from tests.browser.helpers import ARTIFACTS
from tests.browser.test_console_disputes import console_shot
from tests.browser.test_phone_money import (
    DESKTOP,
    assert_lines_in_view,
    broken_dates,
    regions_hinted_when_wider,
    settle,
)
from tests.factories import draft_invoice, pay

PHONE = {"width": 390, "height": 844}
# An amount as wide as a 3PL's books make one: the longest money on these pages.
BIG_MINOR = 123_456_789_01


@dataclass
class Books:
    portal: scenario_module.Scenario
    draft_id: int
    payment_id: int
    dispute_id: int
    run_id: int
    notice_ids: dict[str, int]  # queue slug → a waiting notice of that kind


@pytest.fixture
def books(tx_db, live_server, browser) -> Books:
    """The browser scenario, plus what the console's queues show: a draft with a large
    adjustment, a large payment left as credit, a credit request, remittance advice and a
    billing run waiting for the worker."""
    portal = scenario_module.build()
    acme, operator, today = portal.acme, portal.operator, portal.today
    draft = draft_invoice(acme, picks=9, labels=4, period=(today, today), day=today)
    add_adjustment(
        actor=operator,
        client=acme,
        invoice_id=draft.pk,
        description="Peak season warehouse surcharge for the whole of the quarter",
        amount_minor=BIG_MINOR,
        reason="Agreed on the phone with the client's controller",
    )
    payment = pay(acme, BIG_MINOR, received_on=today, auto_allocate=False, reference="WIRE-88")
    overdue = next(
        i for i in portal.invoices if portal.expected_status[i.display_number] == "overdue"
    )
    credit = ask_to_apply_credit(
        actor=portal.user,
        client=acme,
        lines=[(overdue.pk, overdue.balance_minor)],
        key=uuid.uuid4(),
    )
    advice = report_payment(
        actor=portal.user,
        client=acme,
        amount_minor=portal.roles.open.balance_minor,
        currency="USD",
        paid_on=today - timedelta(days=1),
        method="wire",
        reference="FEDWIRE 2026-77120",
        invoice_ids=[portal.roles.open.pk],
        key=uuid.uuid4(),
        today=today,
    )
    run = start_billing_run(
        actor=operator, month=today.replace(day=1), client_ids=[portal.globex.pk], today=today
    )
    return Books(
        portal=portal,
        draft_id=draft.pk,
        payment_id=payment.payment.pk,
        dispute_id=Dispute.objects.get(invoice=portal.roles.disputed).pk,
        run_id=run.pk,
        notice_ids={"credit": credit.notice.pk, "remittance": advice.notice.pk},
    )


# Each element whose own text is an amount ($1,234.56, −$5.00, CA$7.10) or is a numeric
# cell, with its text's box, the box of the element that holds it, and the nearest
# ancestor that clips it sideways (a scroll region, or anything with overflow hidden).
_MONEY = r"""
(phoneWidth) => {
  const amount = /^[−-]?[A-Z]{0,3}[$€£¥][0-9,]+(\.[0-9]+)?$/;
  const found = [];
  for (const el of document.querySelectorAll("main *")) {
    if (el.closest(".visually-hidden, [hidden]") || el.offsetParent === null) continue;
    const own = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
    const numeric = el.matches("td.num") && own !== "";
    if (!amount.test(own) && !numeric) continue;
    const range = document.createRange();
    range.selectNodeContents(el);
    const box = range.getBoundingClientRect();
    const line = parseFloat(getComputedStyle(el).fontSize) * 1.6;
    let clipper = null;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") { clipper = a; break; }
    }
    const item = {
      text: own,
      oneLine: box.height <= line,
      onScreen: box.left >= -0.5 && box.right <= phoneWidth + 0.5,
      region: null,
    };
    if (clipper) {
      const edge = clipper.getBoundingClientRect();
      const hint = clipper.previousElementSibling;
      item.region = {
        what: clipper.tagName + "." + clipper.className,
        role: clipper.getAttribute("role") || "",
        label: clipper.getAttribute("aria-label") || clipper.getAttribute("aria-labelledby") || "",
        focusable: clipper.tabIndex === 0,
        scrolls: ["auto", "scroll"].includes(getComputedStyle(clipper).overflowX),
        wider: clipper.scrollWidth > clipper.clientWidth,
        hinted: !!(hint && hint.matches(".scroll-hint") && hint.getBoundingClientRect().height > 0
          && hint.checkVisibility({visibilityProperty: true})),
        // Reachable: not cut at the region's start, nor past the end of what it scrolls.
        inside: box.left >= edge.left - 0.5
          && box.right <= edge.left + clipper.scrollWidth - clipper.scrollLeft + 0.5,
      };
    }
    found.push(item);
  }
  return found;
}
"""

# Elements past the screen's right edge that no sideways-scrolling region holds (what is
# clipped to nothing, the headers kept for screen readers, is not seen).
_OVERFLOW = r"""
(phoneWidth) => {
  const clipped = (el) => {
    for (let a = el; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.position === "absolute" && s.clip !== "auto") return true;
    }
    return false;
  };
  const scrolled = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(a).overflowX)) return true;
    }
    return false;
  };
  return Array.from(document.querySelectorAll("body *"))
    .filter(el => el.getBoundingClientRect().right > phoneWidth + 1)
    .filter(el => !scrolled(el) && !clipped(el) && !el.matches(".skip-link"))
    .map(el => el.tagName + "." + el.className);
}
"""


def phone_problems(page: Page, where: str) -> tuple[list[str], int]:
    """What is wrong with the page at phone width, and how many amounts it checked."""
    problems = []
    settle(page)
    # The phone's width, not window.innerWidth: a mobile browser widens its layout viewport
    # to a page wider than the screen (and zooms out to show it).
    inner = PHONE["width"]
    width = max(page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]"))
    if width > inner:
        problems.append(f"{where}: the page scrolls sideways ({width}px wide)")
    for what in page.evaluate(_OVERFLOW, inner):
        problems.append(f"{where}: {what} is wider than the screen outside a region")
    found = page.evaluate(_MONEY, inner)
    for item in found:
        text, region = item["text"], item["region"]
        if not item["oneLine"]:
            problems.append(f"{where}: {text} wraps")
        if region is None or not region["wider"]:
            if not item["onScreen"]:
                problems.append(f"{where}: {text} runs off the screen")
            continue
        if not region["inside"]:
            problems.append(f"{where}: {text} is cut by {region['what']}")
        # A table wider than the screen: a named region the keyboard can scroll, which
        # says that it scrolls.
        if not (region["role"] == "region" and region["label"]):
            problems.append(f"{where}: {text} is in an unnamed region {region['what']}")
        elif not (region["focusable"] and region["scrolls"]):
            problems.append(f"{where}: {text} is in a region the keyboard cannot scroll")
        elif not region["hinted"]:
            problems.append(f"{where}: {text} is in a region that does not say it scrolls")
    for date in broken_dates(page)[0]:
        problems.append(f"{where}: the date {date} breaks")
    try:
        regions_hinted_when_wider(page, where, some=False)
    except AssertionError as error:
        problems.append(str(error).splitlines()[0])
    return problems, len(found)


def console_pages(books: Books) -> list[tuple[str, str]]:
    """(name, URL) of every main page of the console, one of each kind of detail page."""
    invoice = books.portal.roles.disputed.pk
    pages = [
        ("overview", "/console/"),
        ("aging", "/console/aging/"),
        ("invoices", "/console/invoices/"),
        ("invoice", f"/console/invoices/{invoice}/"),
        ("drafts", "/console/drafts/"),
        ("draft", f"/console/drafts/{books.draft_id}/"),
        ("payments", "/console/payments/"),
        ("payment", f"/console/payments/{books.payment_id}/"),
        ("record-payment", "/console/payments/new/"),
        ("credit", "/console/payments/credit/"),
        ("disputes", "/console/disputes/"),
        ("dispute", f"/console/disputes/{books.dispute_id}/"),
        ("billing-runs", "/console/billing/"),
        ("billing-run", f"/console/billing/{books.run_id}/"),
        ("reminders", "/console/reminders/"),
        ("unrated", "/console/unrated/"),
    ]
    for slug, notice_id in books.notice_ids.items():
        pages.append((f"notices-{slug}", f"/console/requests/{slug}/"))
        pages.append((f"notice-{slug}", f"/console/requests/{notice_id}/"))
    return pages


def test_at_phone_width_every_console_page_fits_and_no_amount_is_cut(
    books, new_context, live_server
):
    assert set(KINDS) == set(books.notice_ids), "a queue of notices is missing from the walk"
    assert ClientNotice.objects.filter(kind=NoticeKind.REMITTANCE).count() == 1
    assert BillingRun.objects.filter(pk=books.run_id).exists()
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_cookies([session_cookie(books.portal.operator, live_server.url)])
    page = context.new_page()
    big = "$123,456,789.01"
    counted, problems = {}, []
    for name, url in console_pages(books):
        response = page.goto(url)
        assert response and response.status == 200, f"{url}: {response and response.status}"
        expect(page.locator("h1")).to_be_visible()
        found, counted[name] = phone_problems(page, url)
        problems += found
        console_shot(page, f"console-phone-{name}")
    assert not problems, "\n".join(problems)

    # The lists a phone is most used for show what is owed without scrolling sideways.
    for url, amounts in (
        ("/console/invoices/", "table.console-invoices tbody td:last-child"),
        ("/console/payments/", "table.console-payments tbody td:nth-last-child(2)"),
    ):
        page.goto(url)
        cells = page.locator(amounts)
        expect(cells.first).to_be_visible()
        for i in range(cells.count()):
            box = cells.nth(i).bounding_box()
            assert box and box["x"] + box["width"] <= PHONE["width"], f"{url}: row {i} is cut"
    # An invoice's and a draft's line items stack: every amount on screen, no scrolling.
    lines = 'section[aria-labelledby="lines-heading"]'
    page.goto(f"/console/drafts/{books.draft_id}/")
    assert assert_lines_in_view(page, lines) == 3  # picks, labels, the surcharge
    page.locator(lines).screenshot(path=str(ARTIFACTS / "console-phone-draft-lines.png"))
    page.goto(f"/console/invoices/{books.portal.roles.big.pk}/")
    assert assert_lines_in_view(page, lines) == books.portal.roles.big.lines.count()
    # A line's events load below it and scroll in a region of their own, which says so.
    page.locator(f"{lines} tbody.line").first.locator(".line-more a").click()
    events = page.locator(f"{lines} table.events tbody tr")
    expect(events.first).to_be_visible()
    found, _ = phone_problems(page, "invoice with events")
    assert not found, "\n".join(found)
    assert any(r["wider"] for r in regions_hinted_when_wider(page, "invoice with events"))
    console_shot(page, "console-phone-invoice-events")
    page.locator(lines).screenshot(path=str(ARTIFACTS / "console-phone-invoice-lines.png"))

    # The large amounts are among those checked, where they appear.
    for name in ("draft", "payment", "payments", "credit"):
        page.goto(dict(console_pages(books))[name])
        expect(page.locator("main")).to_contain_text(big)
    assert counted["overview"] and counted["invoices"] and counted["draft"], counted
    assert sum(counted.values()) > 150, counted


def test_at_desktop_width_no_console_table_says_it_scrolls(books, new_context, live_server):
    context = new_context(viewport=DESKTOP)
    context.add_cookies([session_cookie(books.portal.operator, live_server.url)])
    page = context.new_page()
    fitting, wider = 0, []
    for name, url in console_pages(books):
        page.goto(url)
        expect(page.locator("h1")).to_be_visible()
        regions = regions_hinted_when_wider(page, url, some=False)
        broken, _ = broken_dates(page)
        assert not broken, f"{url}: dates broken across lines: {broken}"
        console_shot(page, f"console-desktop-{name}")
        fitting += sum(not region["wider"] for region in regions)
        wider += [f"{url}: {region['label']}" for region in regions if region["wider"]]
    # Only the draft, whose $123,456,789.01 adjustment and its long description need more
    # than the page's main column, scrolls (and says so).
    assert fitting >= 14 and wider == [f"/console/drafts/{books.draft_id}/: Lines of this draft"], (
        fitting,
        wider,
    )
    page.goto(f"/console/invoices/{books.portal.roles.disputed.pk}/")
    console_shot(page, "console-desktop-invoice")

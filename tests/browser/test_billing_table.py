"""The billing page in a real browser: stat cards, filters, sorting, paging, history."""

import re
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect

from tally.payments.models import Payment
from tally.portal.queries import stat_cards
from tests.browser.helpers import (
    HEADERS,
    ROW_STATUSES,
    expected_order,
    rows,
    shot,
    usd,
)
from tests.browser.scenario import ORDER_REFERENCE


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query, keep_blank_values=True)


def sort_link(page: Page, header: str):  # noqa: ANN201
    return page.locator("table.invoices thead").get_by_role("link", name=re.compile(f"^{header}"))


def card(page: Page, name: str):  # noqa: ANN201
    return page.locator(f'a.card[data-card="{name}"]')


def test_the_stat_cards_say_what_the_data_says_and_each_card_filters_the_table(portal, page):
    page.goto("/")
    cards = stat_cards(portal.acme.pk, portal.today)
    unpaid = [inv for inv in portal.invoices if inv.status == "open"]
    # Overdue as the table shows it: a disputed invoice counts under "Disputed" instead.
    overdue_numbers = portal.numbers_with_status("overdue")
    overdue = [inv for inv in unpaid if inv.display_number in overdue_numbers]
    assert overdue and len(overdue) < len([inv for inv in unpaid if inv.due_date < portal.today])
    # The read model agrees with the data as built...
    assert cards.outstanding_minor == sum(inv.balance_minor for inv in unpaid)
    assert (cards.overdue_minor, cards.overdue_count) == (
        sum(inv.balance_minor for inv in overdue),
        len(overdue),
    )
    paid_this_year = Payment.objects.filter(
        client=portal.acme, received_on__year=portal.today.year
    ).values_list("amount_minor", flat=True)
    assert cards.paid_ytd_minor == sum(paid_this_year)
    assert cards.disputed_count == 1
    # ...and the page shows it.
    expect(card(page, "outstanding").locator(".card-value")).to_have_text(
        usd(cards.outstanding_minor)
    )
    expect(card(page, "outstanding").locator(".card-note")).to_have_text(
        f"{len(unpaid)} unpaid invoices"
    )
    expect(card(page, "overdue").locator(".card-value")).to_have_text(usd(cards.overdue_minor))
    expect(card(page, "overdue").locator(".card-note")).to_have_text(
        f"{len(overdue)} invoices past due (not in dispute)"
    )
    expect(card(page, "paid").locator(".card-value")).to_have_text(usd(cards.paid_ytd_minor))
    expect(card(page, "disputed").locator(".card-value")).to_have_text("1")
    shot(page, portal, "billing")

    card(page, "overdue").click()
    page.wait_for_url(re.compile(r"\?status=overdue&sort=due_date&dir=asc$"))
    # The card counts exactly the rows its link shows, the longest overdue first.
    assert len(overdue_numbers) == cards.overdue_count
    overdue_only = portal.numbers_with_status("overdue")
    want = expected_order(portal, sort="due_date", descending=False, only=overdue_only)
    expect(rows(page)).to_have_text(want)
    expect(page.locator(ROW_STATUSES)).to_have_text(["Overdue"] * len(want))
    expect(page.get_by_label("Status")).to_have_value("overdue")
    shot(page, portal, "card-overdue")

    card(page, "disputed").click()
    page.wait_for_url(re.compile(r"\?status=disputed$"))
    expect(rows(page)).to_have_text([portal.roles.disputed.display_number])

    # Paid year to date is money received: its card leads to the payments it adds up.
    card(page, "paid").click()
    page.wait_for_url(
        re.compile(rf"/payments/\?received_from={portal.today.year}-01-01&received_to=")
    )
    expect(page.locator(".table-summary")).to_contain_text(
        f"in this range · {usd(cards.paid_ytd_minor)} received"
    )
    shot(page, portal, "card-paid-payments")
    page.go_back()

    card(page, "outstanding").click()
    page.wait_for_url(re.compile(r"\?status=outstanding&sort=due_date&dir=asc$"))
    unpaid_numbers = {inv.display_number for inv in unpaid}
    soonest_due_first = expected_order(portal, "due_date", descending=False, only=unpaid_numbers)
    expect(rows(page)).to_have_text(soonest_due_first[:25])


def test_filters_by_status_by_invoice_number_and_by_an_event_reference(portal, page):
    page.goto("/")
    # Choosing a status filters at once (htmx), and the URL follows.
    page.get_by_label("Status").select_option("paid")
    page.wait_for_url(re.compile(r"status=paid"))
    expect(rows(page)).to_have_text(expected_order(portal, only=portal.numbers_with_status("paid")))
    expect(page.locator(ROW_STATUSES).first).to_have_text("Paid")
    shot(page, portal, "filter-paid")

    page.get_by_label("Status").select_option("")
    search = page.get_by_label("Invoice number or reference")
    search.fill(portal.roles.partial.display_number)
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(rf"q={portal.roles.partial.display_number}"))
    expect(rows(page)).to_have_text([portal.roles.partial.display_number])
    expect(page.locator(ROW_STATUSES)).to_have_text(["Partially paid"])

    # A reference of the events billed: only Acme's invoice, though Globex has events
    # whose references start the same way.
    search.fill(f"REF-{ORDER_REFERENCE}")
    search.press("Enter")
    page.wait_for_url(re.compile(rf"q=REF-{ORDER_REFERENCE}"))
    expect(rows(page)).to_have_text([portal.roles.reference.display_number])
    shot(page, portal, "filter-reference")

    search.fill("NO-SUCH-THING-42")
    search.press("Enter")
    expect(page.get_by_text("No invoices match these filters.")).to_be_visible()
    assert query(page)["q"] == ["NO-SUCH-THING-42"]


def test_filtering_keeps_the_sort_chosen_in_the_table_header(portal, page):
    page.goto("/")
    sort_link(page, "Total").click()
    page.wait_for_url(re.compile(r"sort=amount&dir=desc"))
    page.get_by_label("Status").select_option("overdue")
    page.wait_for_url(re.compile(r"status=overdue"))
    assert query(page)["sort"] == ["amount"] and query(page)["dir"] == ["desc"]
    expect(rows(page)).to_have_text(
        expected_order(portal, "amount", True, only=portal.numbers_with_status("overdue"))
    )
    expect(page.locator("thead th", has_text="Total")).to_have_attribute("aria-sort", "descending")


def test_sorting_by_each_column_both_ways_orders_the_rows_and_sets_aria_sort(portal, page):
    page.goto("/")
    expect(page.locator("thead th", has_text="Issued")).to_have_attribute("aria-sort", "descending")
    expect(rows(page)).to_have_text(expected_order(portal)[:25])
    for sort, header in HEADERS.items():
        # A column not sorted yet sorts descending first; the current one flips.
        first = "asc" if sort == "issue_date" else "desc"
        for direction in (first, "desc" if first == "asc" else "asc"):
            sort_link(page, header).click()
            page.wait_for_url(re.compile(rf"sort={sort}&dir={direction}$"))
            aria = "descending" if direction == "desc" else "ascending"
            expect(page.locator("table.invoices thead th", has_text=header)).to_have_attribute(
                "aria-sort", aria
            )
            for other in set(HEADERS.values()) - {header}:
                expect(page.locator("table.invoices thead th", has_text=other)).to_have_attribute(
                    "aria-sort", "none"
                )
            expect(rows(page)).to_have_text(expected_order(portal, sort, direction == "desc")[:25])
            if (sort, direction) == ("amount", "desc"):
                shot(page, portal, "sorted-by-total")


def test_paging_forward_and_back_and_the_browser_back_button(portal, page):
    everything = expected_order(portal)
    page.goto("/")
    expect(rows(page)).to_have_text(everything[:25])
    expect(page.get_by_role("link", name="Previous page")).to_have_count(0)

    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r"cursor="))
    second_url = page.url
    expect(rows(page)).to_have_text(everything[25:])
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    shot(page, portal, "page-2")

    page.get_by_role("link", name="Previous page").click()
    page.wait_for_url(lambda url: url != second_url and "cursor=" in url)
    expect(rows(page)).to_have_text(everything[:25])

    # htmx pushed each state into the history: Back returns to it, page and URL.
    page.go_back()
    page.wait_for_url(second_url)
    expect(rows(page)).to_have_text(everything[25:])
    page.go_back()
    page.wait_for_url(lambda url: urlparse(url).path == "/" and not urlparse(url).query)
    expect(rows(page)).to_have_text(everything[:25])
    expect(page.locator('a.card[data-card="overdue"]')).to_be_visible()
    page.go_forward()
    page.wait_for_url(second_url)
    expect(rows(page)).to_have_text(everything[25:])

    # The restored page runs the portal's script again; its controls still act once:
    # a row opens with one click and closes with the next.
    first = everything[25]
    button = page.locator(f"#invoice-{first} button.expand")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#detail-{first}")).to_be_visible()
    button.click()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(page.locator(f"#detail-{first}")).to_be_hidden()


def test_paging_keeps_the_sort_and_comes_back_to_the_same_first_page(portal, page):
    wanted = expected_order(portal, "amount", False)
    page.goto("/?sort=amount&dir=asc")
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r"cursor="))
    assert query(page)["sort"] == ["amount"] and query(page)["dir"] == ["asc"]
    expect(rows(page)).to_have_text(wanted[25:])
    page.get_by_role("link", name="Previous page").click()
    expect(rows(page)).to_have_text(wanted[:25])
    assert query(page)["sort"] == ["amount"] and query(page)["dir"] == ["asc"]


def test_a_bad_filter_shows_its_error_on_the_field_with_javascript_too(portal, page):
    """The htmx answer used to swap the table alone: "2 invoices match", no error, the bad
    field silently ignored. It now carries the filter fields, errors and all."""
    page.goto("/")
    page.get_by_label("Issued from").fill("2026-10-31")
    page.get_by_label("Issued to").fill("2026-09-01")
    page.get_by_label("Amount from").fill("100.555")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"issued_to=2026-09-01"))
    issued_to_error = page.locator("#id_issued_to-error")
    expect(issued_to_error).to_have_text("“Issued to” must not be before “Issued from”.")
    expect(page.locator("#id_amount_min-error")).to_contain_text("at most 2 decimals")
    expect(page.get_by_label("Issued to")).to_have_value("2026-09-01")
    expect(page.locator("#filter-count")).to_have_text("· 3 active")
    shot(page, portal, "filter-errors-htmx")
    # The same errors, on the same fields, as the page a reload draws.
    swapped = page.locator("#filter-fields").inner_html()
    page.reload()
    assert page.locator("#filter-fields").inner_html() == swapped
    # Put right, the errors go.
    page.get_by_label("Issued to").fill("2026-11-30")
    page.get_by_label("Amount from").fill("")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"issued_to=2026-11-30"))
    expect(page.locator(".filters .field-error")).to_have_count(0)


def _marked(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#cards a.card[aria-current=true]", "cards => cards.map(c => c.dataset.card)"
    )


def test_the_card_the_table_is_filtered_by_is_marked_as_current(portal, page):
    page.goto("/")
    assert _marked(page) == []
    plain = card(page, "overdue").evaluate("c => getComputedStyle(c).backgroundColor")

    card(page, "overdue").click()
    page.wait_for_url(re.compile(r"\?status=overdue&sort=due_date&dir=asc$"))
    assert _marked(page) == ["overdue"]
    overdue = card(page, "overdue")
    # Seen as well as announced: a tinted, framed card that says the table lists it.
    assert overdue.evaluate("c => getComputedStyle(c).backgroundColor") != plain
    assert overdue.evaluate("c => getComputedStyle(c).boxShadow") != "none"
    assert (
        overdue.locator(".card-label").evaluate("l => getComputedStyle(l, '::after').content")
        == '" · listed below"'
    )
    shot(page, portal, "card-current-overdue")

    # A filter changed in place (htmx) moves the mark, or takes it away.
    page.get_by_label("Status").select_option("disputed")
    page.wait_for_url(re.compile(r"status=disputed"))
    expect(card(page, "disputed")).to_have_attribute("aria-current", "true")
    expect(card(page, "overdue")).not_to_have_attribute("aria-current", "true")
    page.get_by_label("Status").select_option("paid")
    page.wait_for_url(re.compile(r"status=paid"))
    expect(page.locator("#cards a.card[aria-current]")).to_have_count(0)
    # Narrowed further than the card, the table no longer lists the card's invoices.
    page.goto(f"/?status=overdue&q={portal.roles.overdue_partial.display_number}")
    assert _marked(page) == []


def test_without_javascript_the_clicked_card_is_marked_as_current(portal, new_context, live_server):
    from tests.browser.conftest import session_cookie

    context = new_context(java_script_enabled=False)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    page.goto("/")
    card(page, "outstanding").click()
    page.wait_for_url(re.compile(r"\?status=outstanding&sort=due_date&dir=asc$"))
    assert _marked(page) == ["outstanding"]
    card(page, "disputed").click()
    page.wait_for_url(re.compile(r"\?status=disputed$"))
    assert _marked(page) == ["disputed"]
    shot(page, portal, "nojs-card-current-disputed")


def test_a_sort_by_status_lists_the_most_pressing_first(portal, page):
    page.goto("/")
    sort_link(page, "Status").click()
    page.wait_for_url(re.compile(r"sort=status&dir=desc$"))
    shown = page.locator(ROW_STATUSES).all_inner_texts()
    in_order = list(dict.fromkeys(shown))
    assert in_order == ["Overdue", "Disputed", "Partially paid", "Open", "Paid"], shown
    shot(page, portal, "sorted-by-status")
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r"cursor="))
    # The rest: paid ones, then the void one last.
    assert page.locator(ROW_STATUSES).all_inner_texts()[-1] == "Void"

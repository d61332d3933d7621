"""The portal's main flows, walked with htmx on, leave the browser's console empty: no CSP
violation (an inline style), no htmx error (an out-of-band swap with no target), no script
error. Every message is collected here, not only the errors the context fixture fails on."""

from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from tally.disputes.models import Dispute, DisputeMessage
from tally.money import to_decimal
from tests.browser.conftest import session_cookie
from tests.browser.test_drilldown import expand, line_references

PHONE = {"width": 390, "height": 844}


def _collect(page: Page) -> list[str]:
    """Every console message at warning level or worse, and every uncaught exception."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        text = message.text
        # A refused form is answered 422 with its errors (shown, and tested below); Chromium
        # logs every 4xx response as a failed resource load.
        if "status of 422" in text:
            return
        found.append(f"{message.type}: {text} ({message.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: found.append(f"page error: {exc}"))
    return found


def _drag_taller(page: Page, field: Locator) -> None:
    """Resize a textarea by its corner handle, as a user with more to say does."""
    box = field.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] + 60, steps=4)
    page.mouse.up()
    grown = field.bounding_box()
    assert grown and grown["height"] > box["height"] + 30, (box, grown)


def _walk(page: Page, portal) -> None:  # noqa: ANN001
    number = portal.roles.open.display_number
    big = portal.roles.big.display_number

    # The billing page, an invoice opened inline, a line's events paged.
    page.goto("/")
    expect(page.locator("table.invoices tbody.invoice")).to_have_count(25)
    _, detail = expand(page, big)
    line_id, references = line_references(portal.roles.big, "pick")
    detail.locator(f'a.expand[aria-controls="events-{line_id}"]').click()
    refs = page.locator(f"#line-events-{line_id} table.events tbody tr td:nth-child(3)")
    expect(refs).to_have_text(references[:50])
    page.locator(f"#line-events-{line_id}").get_by_role("link", name="Later events").click()
    expect(refs).to_have_text(references[50:100])

    # The dispute form, refused (re-rendered with its error), then accepted.
    _, detail = expand(page, number)
    detail.get_by_text("Dispute this invoice").click()
    reason = detail.get_by_label("What is wrong with this invoice?")
    reason.fill("Far too much.")
    _drag_taller(page, reason)  # the browser keeps the new size as the textarea's style
    too_much = to_decimal(portal.roles.open.total_minor + 100, "USD")
    detail.get_by_label("Amount you dispute").fill(str(too_much))
    detail.get_by_role("button", name="Open dispute").click()
    swapped = page.locator(f"#invoice-detail-{number}")  # the drilldown, as re-rendered
    expect(swapped.get_by_label("Amount you dispute")).to_be_focused()
    expect(swapped.locator(".field-error")).to_contain_text("at most")
    swapped.get_by_label("Amount you dispute").fill("1.00")
    swapped.get_by_role("button", name="Open dispute").click()
    expect(swapped.locator("article.dispute")).to_contain_text("Dispute opened.")
    expect(page.locator(f"#status-{number}")).to_have_text("Disputed")
    assert Dispute.objects.filter(invoice=portal.roles.open).count() == 1

    # A message from the billing page's drilldown.
    swapped.get_by_label("Your message").fill("From the billing page.")
    swapped.get_by_role("button", name="Send message").click()
    expect(swapped.locator(".conversation li")).to_have_count(2)

    # The payments page.
    page.goto("/payments/")
    expect(page.locator("table.payments tbody tr").first).to_be_visible()

    # The invoice's own page: a message posted there with htmx (no table row to update).
    page.goto(f"/invoices/{number}/")
    page.get_by_label("Your message").fill("From the invoice's own page.")
    page.get_by_role("button", name="Send message").click()
    expect(page.locator(".conversation li")).to_have_count(3)
    expect(page.locator("article.dispute").get_by_role("status")).to_contain_text("Message sent")
    assert DisputeMessage.objects.filter(body="From the invoice's own page.").count() == 1

    # A dispute refused and then opened on the invoice's own page.
    other = portal.roles.partial.display_number
    page.goto(f"/invoices/{other}/")
    page.get_by_text("Dispute this invoice").click()
    page.get_by_label("What is wrong with this invoice?").fill("Not ours.")
    page.get_by_label("Amount you dispute").fill("1.005")
    page.get_by_role("button", name="Open dispute").click()
    expect(page.locator(".field-error")).to_contain_text("at most 2 decimals")
    page.get_by_label("Amount you dispute").fill("")
    page.get_by_role("button", name="Open dispute").click()
    expect(page.locator("article.dispute").get_by_role("status")).to_contain_text("Dispute opened.")
    expect(page.locator(".detail-head .status")).to_have_text("Disputed")


def test_the_main_portal_flows_log_nothing_to_the_console(portal, new_context, live_server):
    context = new_context()
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    found = _collect(page)
    _walk(page, portal)
    assert found == []


def test_at_phone_width_the_main_flows_log_nothing_either(portal, new_context, live_server):
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    found = _collect(page)
    _walk(page, portal)
    assert found == []

"""The dispute loop from both sides: the client disputes in the portal, the operator
answers and notes in the console, the client sees the answer and never the note, the
operator credits, the client sees the resolution."""

from playwright.sync_api import expect

from tally.disputes.models import Dispute
from tally.money import format_money, to_decimal
from tests.browser.conftest import session_cookie
from tests.browser.helpers import ARTIFACTS, assert_private, shot
from tests.browser.test_drilldown import expand

REASON = "Twelve labels were printed for orders we cancelled that morning."
REPLY = "Thanks, we found the cancelled orders in the carrier manifest."
NOTE = "CONSOLE-NOTE: carrier voided 12 labels; credit them in full."
SUMMARY = "The twelve labels of the cancelled orders are credited."


def console_shot(page, name: str) -> None:
    """A screenshot of a console page (which shows every client: no privacy check)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, caret="initial")


def test_a_dispute_goes_from_the_client_to_the_console_and_back(
    portal, page, new_context, live_server
):
    invoice = portal.roles.open
    number = invoice.display_number
    label_line = invoice.lines.get(kind="label")

    # The client disputes the labels line from the billing page.
    page.goto("/")
    _, detail = expand(page, number)
    detail.get_by_text("Dispute this invoice").click()
    detail.get_by_label("What is wrong with this invoice?").fill(REASON)
    detail.get_by_role("checkbox", name=label_line.description).check()
    detail.get_by_role("button", name="Open dispute").click()
    expect(page.locator(f"#invoice-detail-{number} article.dispute")).to_contain_text(
        "Open dispute"
    )
    dispute = Dispute.objects.get(invoice=invoice, status="open")

    # The operator finds it on the desk, waiting for an answer, and opens it.
    ops = new_context()
    ops.add_cookies([session_cookie(portal.operator, live_server.url)])
    console = ops.new_page()
    console.goto("/")
    expect(console).to_have_url(f"{live_server.url}/console/")
    console.locator('[data-figure="disputes"]').click()
    expect(console).to_have_url(f"{live_server.url}/console/disputes/")
    row = console.locator(f'tr[data-dispute="{dispute.pk}"]')
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("Acme Inc.")
    expect(row).to_contain_text(format_money(label_line.amount_minor, "USD"))
    expect(row).to_contain_text("Our turn")
    console_shot(console, "console-dispute-desk")
    row.get_by_role("link", name=number).click()
    expect(console.get_by_role("heading", level=1)).to_contain_text(f"Dispute on {number}")

    # A reply to the client, and an internal note beside the conversation.
    console.get_by_label("Reply to the client").fill(REPLY)
    console.get_by_role("button", name="Send reply").click()
    expect(console.get_by_role("status")).to_contain_text("Reply sent to Acme Inc.")
    conversation = console.locator("#conversation .conversation li")
    expect(conversation).to_have_count(2)
    expect(conversation.last).to_contain_text(REPLY)
    console.get_by_label("New internal note").fill(NOTE)
    console.get_by_role("button", name="Add internal note").click()
    notes = console.locator("aside.internal-notes")
    expect(notes).to_contain_text("Never shown to the client")
    expect(notes.locator("ol.notes li")).to_contain_text(NOTE)
    expect(console.locator("#conversation")).not_to_contain_text(NOTE)
    console_shot(console, "console-dispute-page")

    # The client sees the reply and never the note.
    page.goto(f"/invoices/{number}/")
    client_conversation = page.locator(".conversation li")
    expect(client_conversation).to_have_count(2)
    expect(client_conversation.last).to_contain_text(REPLY)
    expect(client_conversation.last.locator(".who")).to_have_text("Northwind Logistics")
    assert NOTE not in page.content()
    assert_private(page, portal)

    # The operator resolves with a credit, the amount prefilled from the dispute.
    console.get_by_label("Credited").check()
    amount = console.get_by_label("Credit amount (USD)")
    expect(amount).to_have_value(str(to_decimal(label_line.amount_minor, "USD")))
    console.get_by_label("Summary the client will see").fill(SUMMARY)
    console.get_by_role("button", name="Resolve dispute").click()
    expect(console.locator("#resolution")).to_contain_text("Credited")
    expect(console.locator("#resolution")).to_contain_text(SUMMARY)
    console_shot(console, "console-dispute-resolved")
    dispute.refresh_from_db()
    assert dispute.credit_note.amount_minor == label_line.amount_minor
    assert dispute.resolved_by_id == portal.operator.pk

    # The client sees the resolution, and the invoice owes the credit less.
    page.goto(f"/invoices/{number}/")
    expect(page.locator("article.dispute")).to_contain_text("Resolved: Credited")
    expect(page.locator("article.dispute .resolution")).to_have_text(SUMMARY)
    invoice.refresh_from_db()
    assert invoice.balance_minor == invoice.total_minor - label_line.amount_minor
    expect(page.locator("main")).to_contain_text(format_money(invoice.balance_minor, "USD"))
    assert NOTE not in page.content()
    shot(page, portal, "console-loop-client-resolved")

"""The operator's invoices: find one in the list (by event reference), open it, void and
regenerate it — the client's portal then names the replacement — and credit chosen lines
of another."""

import re

from playwright.sync_api import expect

from tally.actions.invoices import issue_invoice
from tally.invoicing.models import CreditNote, Invoice, InvoiceStatus
from tally.money import format_money, to_decimal
from tests.browser.conftest import session_cookie
from tests.browser.scenario import ORDER_REFERENCE
from tests.browser.test_console_disputes import console_shot


def _console(new_context, portal, live_server, **options):
    context = new_context(**options)
    context.add_cookies([session_cookie(portal.operator, live_server.url)])
    return context.new_page()


def test_list_to_invoice_to_void_and_regenerate_and_the_portal_links_the_replacement(
    portal, page, new_context, live_server
):
    invoice = portal.roles.reference
    number = invoice.display_number
    console = _console(new_context, portal, live_server)
    console.goto("/console/invoices/")
    expect(console.get_by_role("heading", level=1)).to_have_text("Invoices")
    expect(console.locator("tr[data-invoice]").first).to_be_visible()
    console_shot(console, "console-invoices-list")

    # A search by an order number on one of its events, swapped in by htmx.
    console.get_by_label("Invoice number or event reference").fill(f"REF-{ORDER_REFERENCE}")
    console.get_by_role("button", name="Apply filters").click()
    # Globex's orders carry the same stem: every client's invoices are searched...
    expect(console.locator("tr[data-invoice]")).to_have_count(1 + len(portal.globex_numbers))
    # ...until the client filter narrows it.
    console.get_by_label("Client").select_option(label="Acme Inc.")
    console.get_by_role("button", name="Apply filters").click()
    expect(console.locator("tr[data-invoice]")).to_have_count(1)
    expect(console.locator(f'tr[data-invoice="{number}"]')).to_contain_text("Acme Inc.")
    expect(console).to_have_url(
        re.compile(f"/console/invoices/\\?q=REF-{ORDER_REFERENCE}&client={portal.acme.pk}&")
    )
    console_shot(console, "console-invoices-search")
    console.get_by_role("link", name=number).click()
    expect(console.get_by_role("heading", level=1)).to_contain_text(number)
    expect(console.locator("#history-heading")).to_be_visible()
    expect(console.locator("ol.history")).to_contain_text("invoice.issued")

    # The events behind a line, in place.
    first_line = console.locator("tbody.line").first
    first_line.get_by_role("link", name="events").click()
    expect(first_line.locator(".line-events table.events")).to_contain_text("REF-")
    console_shot(console, "console-invoice-page")

    # Void and regenerate, with the reason the client reads.
    console.get_by_label("Why is it void? (the client reads this)").fill(
        "The picks were rated at last year's price."
    )
    console.get_by_role("button", name="Void and regenerate").click()
    expect(console.get_by_role("status")).to_contain_text(f"{number} is void.")
    replacement = Invoice.objects.get(replaces=invoice)
    expect(console.get_by_role("status")).to_contain_text(
        f"Replacement draft #{replacement.pk} bills the same"
    )
    note = console.locator("#void-note")
    expect(note).to_contain_text("Replaced by")
    expect(note.get_by_role("link", name=f"draft #{replacement.pk}")).to_be_visible()
    console_shot(console, "console-invoice-voided")
    note.get_by_role("link", name=f"draft #{replacement.pk}").click()
    expect(console).to_have_url(re.compile(f"/console/drafts/{replacement.pk}/$"))

    # Until it is issued the client does not see the replacement; then it is linked.
    page.goto(f"/invoices/{number}/")
    expect(page.locator(".invoice-detail")).to_contain_text("This invoice was voided")
    expect(page.locator(".invoice-detail")).not_to_contain_text("replaced by")
    issued = issue_invoice(actor=portal.operator, client=portal.acme, invoice_id=replacement.pk)
    page.reload()
    link = page.get_by_role("link", name=issued.display_number)
    expect(link).to_be_visible()
    page.screenshot(path=str(_artifact("portal-void-names-replacement")), full_page=True)
    link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(issued.display_number)
    expect(page.locator(".invoice-detail")).to_contain_text(f"Replaces {number}")
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.VOID
    console.goto(f"/console/invoices/{issued.pk}/")
    expect(console.locator("#replaces-note")).to_contain_text(number)


def _artifact(name: str):
    from tests.browser.helpers import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_a_credit_note_for_chosen_lines_from_the_invoice_page(
    portal, page, new_context, live_server
):
    invoice = portal.roles.open
    number = invoice.display_number
    line = invoice.lines.order_by("position").first()
    console = _console(new_context, portal, live_server)
    console.goto(f"/console/invoices/{invoice.pk}/")

    # More than the line is refused beside the line.
    console.get_by_role("checkbox", name=line.description).check()
    part = console.locator(f"#credit-line-{line.pk}")
    part.fill(str(line.amount_minor))  # in dollars: a hundred times the line
    console.get_by_label("Reason the client will read").fill("Twelve picks were counted twice.")
    console.get_by_role("button", name="Create credit note").click()
    expect(console.locator(f"#credit-line-{line.pk}-error")).to_contain_text("Must be at most")
    expect(part).to_have_attribute("aria-invalid", "true")
    console_shot(console, "console-credit-refused")

    half = line.amount_minor // 2
    part.fill(str(to_decimal(half, "USD")))
    console.get_by_role("button", name="Create credit note").click()
    expect(console.get_by_role("status")).to_contain_text(f"Credit note created on {number}")
    expect(console.locator("#credit-notes + ul")).to_contain_text(format_money(half, "USD"))
    console_shot(console, "console-credit-created")
    note = CreditNote.objects.get(invoice=invoice)
    assert note.amount_minor == half

    page.goto(f"/invoices/{number}/")
    expect(page.locator(".invoice-detail")).to_contain_text(note.display_number)
    expect(page.locator(".invoice-detail")).to_contain_text("Twelve picks were counted twice.")


def test_the_invoices_list_works_without_javascript(portal, new_context, live_server):
    console = _console(new_context, portal, live_server, java_script_enabled=False)
    console.goto("/console/invoices/?status=overdue&status=disputed")
    rows = console.locator("tr[data-invoice]")
    expect(rows.first).to_be_visible()
    for status in rows.locator(".status").all_inner_texts():
        assert status in ("Overdue", "Disputed"), status
    console.get_by_role("link", name="Total").click()
    expect(console).to_have_url(re.compile("sort=amount"))
    expect(console.get_by_role("columnheader", name="Total")).to_have_attribute(
        "aria-sort", "descending"
    )

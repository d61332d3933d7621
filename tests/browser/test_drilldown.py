"""An invoice opened inline: its lines, a line's events page by page, and the downloads."""

import io
from pathlib import Path

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tally.invoicing.models import Invoice
from tally.invoicing.queries import billed_events
from tally.money import to_decimal
from tests.browser.helpers import csv_rows, expected_order, shot, usd
from tests.browser.scenario import BIG_LINE_EVENTS


def line_references(invoice: Invoice, kind: str) -> tuple[int, list[str]]:
    line = invoice.lines.get(kind=kind)
    references = list(
        billed_events(line).order_by("occurred_at", "id").values_list("reference", flat=True)
    )
    return line.pk, references


def expand(page: Page, number: str):  # noqa: ANN201
    button = page.locator(f"#invoice-{number} button.expand")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    detail = page.locator(f"#detail-{number}")
    expect(detail).to_be_visible()
    return button, detail


def test_an_invoice_expands_inline_and_a_line_shows_its_events_page_by_page(portal, page):
    big = portal.roles.big.display_number
    line_id, references = line_references(portal.roles.big, "pick")
    assert len(references) == BIG_LINE_EVENTS
    page.goto("/")
    button, detail = expand(page, big)
    lines = detail.locator("table.lines tbody.line > tr:first-child")
    expect(lines).to_have_count(2)
    pick_line = detail.locator(f"#line-{line_id} > tr:first-child")
    expect(pick_line.locator("td").nth(1)).to_have_text("Pick")
    expect(pick_line.locator("td").nth(3)).to_have_text(str(BIG_LINE_EVENTS))
    expect(pick_line.locator("td").nth(5)).to_have_text(usd(BIG_LINE_EVENTS * 35))
    invoice = portal.roles.big
    expect(detail.locator("tr.balance td")).to_have_text(usd(invoice.balance_minor))
    shot(page, portal, "invoice-expanded")

    events_button = detail.locator(f'a.expand[aria-controls="events-{line_id}"]')
    expect(events_button).to_have_attribute("aria-expanded", "false")
    events_button.click()
    expect(events_button).to_have_attribute("aria-expanded", "true")
    events = page.locator(f"#line-events-{line_id}")
    event_refs = events.locator("table.events tbody tr td:nth-child(3)")
    expect(events.locator(".events-head")).to_contain_text(f"{BIG_LINE_EVENTS} events")
    expect(event_refs).to_have_text(references[:50])
    shot(page, portal, "line-events")

    events.get_by_role("link", name="Later events").click()
    expect(event_refs).to_have_text(references[50:100])
    page.locator(f"#line-events-{line_id}").get_by_role("link", name="Later events").click()
    expect(event_refs).to_have_text(references[100:])
    expect(events.get_by_role("link", name="Later events")).to_have_count(0)
    events.get_by_role("link", name="Earlier events").click()
    expect(event_refs).to_have_text(references[50:100])

    # Collapsing hides the drilldown again; the table itself did not move.
    button.click()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(detail).to_be_hidden()
    expect(page.locator("table.invoices tbody.invoice")).to_have_count(25)


def test_the_pdf_and_the_csvs_download_with_the_right_content(portal, page):
    number = portal.roles.big.display_number
    page.goto("/")
    _, detail = expand(page, number)

    with page.expect_download() as pdf_download:
        detail.get_by_role("link", name="Download PDF").click()
    pdf = pdf_download.value
    assert pdf.suggested_filename == f"{number}.pdf"
    content = Path(pdf.path()).read_bytes()
    assert content.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert number in text

    line_id, references = line_references(portal.roles.big, "pick")
    detail.locator(f'a.expand[aria-controls="events-{line_id}"]').click()
    with page.expect_download() as events_download:
        page.locator(f"#line-events-{line_id}").get_by_role(
            "link", name="Download all as CSV"
        ).click()
    events = csv_rows(events_download.value)
    assert events[0][:4] == ["When (UTC)", "Kind", "Reference", "Quantity"]
    assert [r[2] for r in events[1:]] == references
    assert {r[1] for r in events[1:]} == {"Pick"}

    # The invoices CSV is the table as filtered and sorted on screen, every page of it.
    page.get_by_label("Status").select_option("overdue")
    page.wait_for_url("**/?*status=overdue*")
    with page.expect_download() as invoices_download:
        page.get_by_role("link", name="Download CSV").click()
    invoices = csv_rows(invoices_download.value)
    assert invoices[0] == [
        "Invoice",
        "Issue date",
        "Due date",
        "Status",
        "Currency",
        "Total",
        "Balance",
    ]
    overdue = expected_order(portal, only=portal.numbers_with_status("overdue"))
    assert [r[0] for r in invoices[1:]] == overdue
    assert {r[3] for r in invoices[1:]} == {"Overdue"}

    page.goto("/?sort=amount&dir=asc")
    with page.expect_download() as all_download:
        page.get_by_role("link", name="Download CSV").click()
    everything = csv_rows(all_download.value)[1:]
    assert [r[0] for r in everything] == expected_order(portal, "amount", False)
    assert len(everything) == len(portal.invoices) > 25
    by_number = {r[0]: r for r in everything}
    partial = portal.roles.partial
    assert by_number[portal.roles.partial.display_number][3:] == [
        "Partially paid",
        "USD",
        str(to_decimal(partial.total_minor, "USD")),
        str(to_decimal(partial.balance_minor, "USD")),
    ]

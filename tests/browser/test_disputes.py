"""Disputes from the client's side: open one from the drilldown, talk, never see notes."""

import io

from playwright.sync_api import expect
from pypdf import PdfReader

from tally.disputes.models import Dispute, DisputeMessage
from tally.money import to_decimal
from tests.browser.helpers import shot
from tests.browser.scenario import DISPUTE_REASON, INTERNAL_NOTE, OPERATOR_REPLY
from tests.browser.test_drilldown import expand

OPERATOR = "Northwind Logistics"  # TALLY_OPERATOR_NAME's default


def test_a_client_opens_a_dispute_from_the_drilldown_and_posts_a_message(portal, page):
    number = portal.roles.open.display_number
    invoice = portal.roles.open
    label_line = invoice.lines.get(kind="label")
    page.goto("/")
    _, detail = expand(page, number)
    detail.get_by_text("Dispute this invoice").click()
    reason = "Ten labels were printed for orders cancelled the same afternoon."
    detail.get_by_label("What is wrong with this invoice?").fill(reason)
    amount = str(to_decimal(label_line.amount_minor, "USD"))
    detail.get_by_label("Amount you dispute").fill(amount)
    detail.get_by_role("checkbox", name=label_line.description).check()
    shot(page, portal, "dispute-form")
    disputed_card = page.locator('[data-card="disputed"] .card-value')
    disputed_before = int(disputed_card.inner_text())
    detail.get_by_role("button", name="Open dispute").click()

    dispute_view = page.locator(f"#invoice-detail-{number} article.dispute")
    expect(dispute_view).to_contain_text("Open dispute")
    # Said, and where the keyboard now is; the cards count the new dispute at once.
    expect(dispute_view.get_by_role("status")).to_contain_text("Dispute opened.")
    expect(dispute_view).to_be_focused()
    expect(disputed_card).to_have_text(str(disputed_before + 1))
    expect(dispute_view).to_contain_text(f"disputed amount ${amount}")
    expect(dispute_view.locator(".conversation li")).to_have_count(1)
    expect(dispute_view.locator(".conversation li p")).to_have_text(reason)
    expect(page.locator(f"#invoice-detail-{number} .detail-head .status")).to_have_text("Disputed")
    # The row's own badge in the table changes too, without a reload.
    expect(page.locator(f"#status-{number}")).to_have_text("Disputed")
    expect(page.get_by_text("Dispute this invoice")).to_have_count(0)  # one open at a time
    dispute = Dispute.objects.get(invoice=invoice)
    assert dispute.amount_minor == label_line.amount_minor
    assert list(dispute.lines.values_list("line_id", flat=True)) == [label_line.pk]

    page.get_by_label("Your message").fill("Cancellation list attached to our email of today.")
    page.get_by_role("button", name="Send message").click()
    expect(dispute_view.locator(".conversation li")).to_have_count(2)
    expect(dispute_view.locator(".conversation li p").last).to_have_text(
        "Cancellation list attached to our email of today."
    )
    expect(page.get_by_label("Your message")).to_have_value("")
    expect(dispute_view.get_by_role("status")).to_have_text(f"Message sent to {OPERATOR}.")
    assert DisputeMessage.objects.filter(dispute=dispute, author_side="client").count() == 2
    shot(page, portal, "dispute-opened")

    # The table agrees after a reload: the invoice is disputed, reminders paused.
    page.goto(f"/?status=disputed&open={number}")
    rows = page.locator("table.invoices tbody.invoice > tr:first-child > th[scope=row]")
    expect(rows).to_have_text([number, portal.roles.disputed.display_number])  # newest issued first
    expect(page.locator(f"#detail-{number}")).to_contain_text("Paused while disputed")


def test_a_dispute_the_client_cannot_make_shows_why_and_writes_nothing(portal, page):
    number = portal.roles.open.display_number
    invoice = portal.roles.open
    page.goto("/")
    _, detail = expand(page, number)
    detail.get_by_text("Dispute this invoice").click()
    detail.get_by_label("What is wrong with this invoice?").fill("Far too much.")
    too_much = str(to_decimal(invoice.total_minor + 100, "USD"))
    detail.get_by_label("Amount you dispute").fill(too_much)
    detail.get_by_role("button", name="Open dispute").click()
    error = page.locator(f"#invoice-detail-{number} .field-error")
    amount_field = page.get_by_label("Amount you dispute")
    expect(amount_field).to_be_focused()  # the field to fix, its error read with it
    expect(amount_field).to_have_attribute("aria-describedby", error.get_attribute("id") or "")
    expect(error).to_have_text(
        f"Must be at most ${to_decimal(invoice.total_minor, 'USD')} (the invoice total)."
    )
    expect(page.get_by_label("What is wrong with this invoice?")).to_have_value("Far too much.")
    shot(page, portal, "dispute-refused")
    assert not Dispute.objects.filter(invoice=invoice).exists()


def test_the_conversation_shows_and_internal_notes_never_reach_the_client(portal, page):
    number = portal.roles.disputed.display_number
    page.goto("/")
    _, detail = expand(page, number)
    conversation = detail.locator(".conversation li")
    expect(conversation).to_have_count(2)
    expect(conversation.nth(0)).to_contain_text(DISPUTE_REASON)
    expect(conversation.nth(0).locator(".who")).to_have_text("Acme Inc.")
    expect(conversation.nth(1)).to_contain_text(OPERATOR_REPLY)
    expect(conversation.nth(1).locator(".who")).to_have_text("Northwind Logistics")
    expect(detail).to_contain_text("Paused while disputed")
    shot(page, portal, "disputed-conversation")

    # Not in the page, nor in any response a client can ask for about this invoice.
    assert INTERNAL_NOTE not in page.content()
    assert INTERNAL_NOTE not in page.inner_text("body")
    line = portal.roles.disputed.lines.get(kind="pick")
    for url in (
        f"/invoices/{number}/",
        f"/?open={number}",
        f"/?status=disputed&q={number}",
        f"/invoices/{number}/lines/{line.pk}/events/",
        f"/invoices/{number}/lines/{line.pk}/events.csv",
        "/invoices.csv",
        "/reports/aging/",
    ):
        response = page.request.get(url)
        assert response.ok, url
        assert INTERNAL_NOTE.encode() not in response.body(), url
        assert b"INTERNAL-ONLY" not in response.body(), url
    pdf = page.request.get(f"/invoices/{number}/invoice.pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert number in text and "INTERNAL-ONLY" not in text
    fragment = page.request.get(f"/invoices/{number}/", headers={"HX-Request": "true"})
    assert OPERATOR_REPLY in fragment.text() and "INTERNAL-ONLY" not in fragment.text()

    page.goto(f"/invoices/{number}/")
    expect(page.locator(".conversation li")).to_have_count(2)
    assert "INTERNAL-ONLY" not in page.content()

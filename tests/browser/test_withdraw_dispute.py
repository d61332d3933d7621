"""A client withdraws its open dispute from the drilldown: the lines it disputed are named,
the withdrawal needs no reload, and the invoice is owed again."""

from playwright.sync_api import expect

from tally.disputes.models import Dispute, Resolution
from tally.disputes.services import open_dispute
from tests.browser.helpers import shot
from tests.browser.test_drilldown import expand


def test_a_client_withdraws_its_dispute_and_the_invoice_is_owed_again(portal, page):
    invoice = portal.roles.open
    number = invoice.display_number
    label_line = invoice.lines.get(kind="label")
    dispute = open_dispute(
        actor=portal.user,
        client=portal.acme,
        invoice_id=invoice.pk,
        reason="Labels for cancelled orders",
        line_ids=[label_line.pk],
    )
    page.goto("/")
    expect(page.locator(f"#status-{number}")).to_have_text("Disputed")
    _, detail = expand(page, number)
    view = detail.locator("article.dispute")
    disputed = view.locator("ul.disputed-lines li")
    expect(disputed).to_have_count(1)
    expect(disputed).to_contain_text(label_line.description)
    view.get_by_text("Withdraw this dispute").click()
    view.get_by_label("Why (optional").fill("Found the cancellations were after shipping.")
    shot(page, portal, "dispute-withdraw-form")
    view.get_by_role("button", name="Withdraw dispute").click()

    expect(view.get_by_role("status")).to_contain_text("You withdrew this dispute.")
    expect(view).to_contain_text("Resolved: Withdrawn")
    expect(view).to_contain_text("Found the cancellations were after shipping.")
    expect(page.locator(f"#status-{number}")).not_to_have_text("Disputed")
    expect(detail.get_by_text("Dispute this invoice")).to_be_visible()  # may dispute anew
    dispute.refresh_from_db()
    assert dispute.resolution == Resolution.WITHDRAWN
    assert Dispute.objects.filter(invoice=invoice, status="open").count() == 0
    shot(page, portal, "dispute-withdrawn")

"""The conversation by email, in Chromium: the client writes in the portal, the operators
are emailed and the desk says it is our turn; the operator replies in the console, the
client's billing contacts get the reply with a link, and the link opens the dispute."""

from playwright.sync_api import expect

from tally.disputes.services import open_dispute
from tests.browser.conftest import session_cookie
from tests.browser.helpers import shot
from tests.browser.test_console_disputes import console_shot
from tests.browser.test_drilldown import expand
from tests.worker.conftest import run_worker

QUESTION = "Which orders did the twelve labels belong to?"
REPLY = "Orders 4411 to 4422, all cancelled before pickup: we credit them."


def test_the_client_writes_the_operators_hear_the_operator_replies_the_client_reads_it(
    portal, page, new_context, live_server, mailoutbox, settings
):
    settings.TALLY_BASE_URL = live_server.url
    invoice = portal.roles.open
    number = invoice.display_number
    run_worker()  # the scenario's own conversations
    mailoutbox.clear()
    dispute = open_dispute(
        actor=portal.user, client=portal.acme, invoice_id=invoice.pk, reason="Labels."
    )
    run_worker()
    [opened] = mailoutbox
    assert opened.to == [portal.operator.email]
    assert opened.subject == f"Acme Inc. disputes invoice {number}"
    mailoutbox.clear()

    # The operator answers once; then the client writes again, in the portal.
    ops = new_context()
    ops.add_cookies([session_cookie(portal.operator, live_server.url)])
    console = ops.new_page()
    console.goto(f"/console/disputes/{dispute.pk}/")
    console.get_by_label("Reply to the client").fill("We are looking into it.")
    console.get_by_role("button", name="Send reply").click()
    expect(console.get_by_role("status")).to_contain_text("Reply sent to Acme Inc.")
    run_worker()
    mailoutbox.clear()

    page.goto("/")
    _, detail = expand(page, number)
    detail.get_by_label("Your message").fill(QUESTION)
    detail.get_by_role("button", name="Send message").click()
    expect(detail.locator(".conversation li")).to_have_count(3)

    # The operators are told, and the desk puts it back to our turn, saying why.
    run_worker()
    [notice] = mailoutbox
    assert notice.subject == f"Acme Inc. wrote about the dispute on {number}"
    assert QUESTION in notice.body
    console_link = f"{live_server.url}/console/disputes/{dispute.pk}/"
    assert console_link in notice.body
    console.goto("/console/disputes/")
    row = console.locator(f'tr[data-dispute="{dispute.pk}"]')
    expect(row).to_contain_text("Our turn")
    expect(row).to_contain_text("New message from the client")
    console_shot(console, "console-desk-new-message")
    mailoutbox.clear()

    # The operator follows the email's link and replies; the client's contacts get it.
    console.goto(console_link)
    console.get_by_label("Reply to the client").fill(REPLY)
    console.get_by_role("button", name="Send reply").click()
    expect(console.get_by_role("status")).to_contain_text("Reply sent to Acme Inc.")
    run_worker()
    [reply] = mailoutbox
    assert reply.to == ["ap@acme.example"]
    assert REPLY in reply.body
    link = f"{live_server.url}/invoices/{number}/#dispute-{dispute.pk}"
    assert f"\n  {link}\n" in reply.body

    # The client opens the link (a new tab, as from the mail program) and reads the reply.
    page = page.context.new_page()
    page.goto(link)
    conversation = page.locator(f"#dispute-{dispute.pk} .conversation li")
    expect(conversation).to_have_count(4)
    expect(conversation.last).to_contain_text(REPLY)
    shot(page, portal, "portal-dispute-reply-from-email")
    mailoutbox.clear()

    # The client withdraws the dispute from the same page: the operators are told, with
    # the links, and the desk no longer lists it.
    view = page.locator(f"#dispute-{dispute.pk}")
    view.get_by_text("Withdraw this dispute").click()
    view.get_by_label("Why (optional").fill("Thank you, the credit settles it.")
    view.get_by_role("button", name="Withdraw dispute").click()
    expect(view.get_by_role("status")).to_contain_text("You withdrew this dispute.")
    run_worker()
    [withdrawn] = mailoutbox
    assert withdrawn.to == [portal.operator.email]
    assert withdrawn.subject == f"Acme Inc. withdrew its dispute on invoice {number}"
    assert "Thank you, the credit settles it." in withdrawn.body
    assert f"\n  {console_link}\n" in withdrawn.body
    assert f"\n  {live_server.url}/console/disputes/\n" in withdrawn.body
    console.goto("/console/disputes/")
    expect(console.locator(f'tr[data-dispute="{dispute.pk}"]')).to_have_count(0)
    console.goto(console_link)
    expect(console.locator("main")).to_contain_text("Thank you, the credit settles it.")
    console_shot(console, "console-dispute-withdrawn-from-email")

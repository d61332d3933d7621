"""The dispute desk in Chromium: an operator takes a dispute from the desk, another takes it
over from the dispute's page, the desk's filters say whose it is."""

from playwright.sync_api import expect

from tally.accounts.models import Role
from tally.disputes.services import open_dispute
from tests.browser.conftest import session_cookie
from tests.browser.test_console_disputes import console_shot
from tests.factories import make_user


def operator_page(new_context, user, live_server):
    context = new_context()
    context.add_cookies([session_cookie(user, live_server.url)])
    return context.new_page()


def test_an_operator_takes_a_dispute_from_the_desk_and_another_takes_it_over(
    portal, new_context, live_server
):
    invoice = portal.roles.open
    number = invoice.display_number
    dispute = open_dispute(
        actor=portal.user,
        client=invoice.client,
        invoice_id=invoice.pk,
        reason="The storage days are counted twice.",
    )
    alice = portal.operator
    bob = make_user(Role.OPERATOR, email="bob@northwind.example")
    bob.full_name = "Bob Okafor"
    bob.save()

    # Alice takes it from the desk's row, without leaving the desk.
    desk = operator_page(new_context, alice, live_server)
    desk.goto("/console/disputes/?owner=unowned")
    row = desk.locator(f'tr[data-dispute="{dispute.pk}"]')
    expect(row).to_contain_text("Unowned")
    row.get_by_role("button", name=f"Take the dispute on {number}").click()
    expect(desk).to_have_url(f"{live_server.url}/console/disputes/?owner=unowned")
    expect(desk.get_by_role("status")).to_contain_text(f"You took the dispute on {number}")
    expect(desk.locator(f'tr[data-dispute="{dispute.pk}"]')).to_have_count(0)
    desk.get_by_role("link", name="Mine").click()
    expect(desk.get_by_role("link", name="Mine")).to_have_attribute("aria-current", "page")
    expect(desk.locator(f'tr[data-dispute="{dispute.pk}"] td.owner')).to_have_text("You")
    console_shot(desk, "console-desk-mine")

    # Bob sees she has it, and takes it over from the dispute's page.
    other = operator_page(new_context, bob, live_server)
    other.goto("/console/disputes/")
    expect(other.locator(f'tr[data-dispute="{dispute.pk}"] td.owner')).to_contain_text(
        alice.full_name or alice.email
    )
    other.get_by_role("link", name=number).click()
    owner = other.locator("#owner")
    expect(owner).to_contain_text(f"Owned by {alice.full_name or alice.email}")
    owner.get_by_role("button", name=f"Take it over from {alice.full_name or alice.email}").click()
    expect(other.get_by_role("status")).to_contain_text(
        f"over from {alice.full_name or alice.email}."
    )
    expect(other.locator("#owner")).to_contain_text("You own this dispute")
    expect(other.locator("#owner")).to_contain_text(
        f"taken over from {alice.full_name or alice.email}"
    )
    console_shot(other, "console-dispute-taken-over")

    # Alice's "mine" is empty now; the row on "all" names Bob.
    desk.reload()
    expect(desk.locator("p.empty")).to_contain_text("You own no open dispute")
    desk.get_by_role("link", name="All").click()
    expect(desk.locator(f'tr[data-dispute="{dispute.pk}"] td.owner')).to_have_text("Bob Okafor")

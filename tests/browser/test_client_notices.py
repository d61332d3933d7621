"""A client tells the 3PL about money in Chromium — 'apply my credit to this overdue
invoice', 'I've paid' — and the operator answers from the console queue: applies the
credit, records the payment from the advice. Desktop and phone width."""

from dataclasses import dataclass
from datetime import date

import pytest
from playwright.sync_api import expect

from tally.accounts.models import Role, User
from tally.clients.models import Client
from tally.invoicing.models import Invoice
from tally.payments.models import ClientNotice, Payment
from tests.browser.conftest import session_cookie
from tests.browser.helpers import ARTIFACTS
from tests.browser.test_console_disputes import console_shot
from tests.factories import issued_invoice, make_client, make_user, pay


@dataclass
class Books:
    operator: User
    client_user: User
    acme: Client
    october: Invoice  # $7.00, overdue
    november: Invoice  # $10.50, open


@pytest.fixture
def books(tx_db, live_server, browser) -> Books:
    acme = make_client("acme")
    make_client("globex")
    october = issued_invoice(acme, picks=20, issue_date=date(2026, 10, 1))
    november = issued_invoice(
        acme, picks=30, period=(date(2026, 11, 1), date(2026, 11, 30)), issue_date=date(2026, 11, 2)
    )
    pay(acme, 500, received_on=date(2026, 11, 3), auto_allocate=False)  # $5.00 of credit
    return Books(
        operator=User.objects.create_user("ops@northwind.example", None, role=Role.OPERATOR),
        client_user=make_user(Role.CLIENT_USER, client=acme, email="ap@acme.example"),
        acme=acme,
        october=october,
        november=november,
    )


def signed_in(new_context, live_server, user, **options):
    context = new_context(**options)
    context.add_cookies([session_cookie(user, live_server.url)])
    return context.new_page()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, caret="initial")


def test_credit_asked_for_in_the_portal_is_applied_from_the_console(
    books, new_context, live_server
):
    client = signed_in(new_context, live_server, books.client_user)
    client.goto("/reports/aging/")
    expect(client.locator("tr.credit")).to_contain_text("−$5.00")
    shot(client, "notice-aging-credit")
    client.get_by_role("link", name="Ask us to apply it to open invoices").click()
    amount = client.get_by_label(f"Apply to {books.october.display_number}")
    amount.fill("6")  # more than the credit
    client.get_by_role("button", name="Send the request").click()
    expect(client.locator(".form-error")).to_contain_text("$5.00 of your credit is left")
    expect(amount).to_have_value("6")
    shot(client, "notice-credit-refused")
    amount.fill("4.50")
    client.get_by_role("button", name="Send the request").click()
    expect(client.get_by_role("heading", name="Requests")).to_be_visible()
    row = client.locator("table.notices tbody tr").first
    expect(row).to_contain_text("Apply credit")
    expect(row).to_contain_text("Waiting for the 3PL")
    shot(client, "notice-requests")

    ops = signed_in(new_context, live_server, books.operator)
    ops.goto("/console/")
    card = ops.locator('[data-figure="credit_requests"]')
    expect(card.locator(".card-value")).to_have_text("1")
    card.click()
    expect(ops.locator("table.notices")).to_contain_text(books.october.display_number)
    ops.get_by_role("link", name="Open").click()
    console_shot(ops, "console-notice-credit")
    ops.get_by_role("button", name="Apply the credit as asked").click()
    expect(ops.locator(".empty")).to_have_text("Nothing waiting.")
    books.october.refresh_from_db()
    assert books.october.balance_minor == 250

    client.reload()
    expect(client.locator("table.notices tbody tr").first).to_contain_text("Done")


def test_remittance_advice_at_phone_width_is_recorded_from_the_console(
    books, new_context, live_server
):
    client = signed_in(
        new_context, live_server, books.client_user, viewport={"width": 390, "height": 844}
    )
    number = books.november.display_number
    client.goto(f"/invoices/{number}/")
    client.get_by_role("link", name="I've paid this").click()
    expect(client.get_by_label(number, exact=False)).to_be_checked()
    client.get_by_label("Amount paid").fill("10.50")
    client.get_by_label("How you paid").select_option("wire")
    client.get_by_label("Payment reference (optional)").fill("W-2044")
    shot(client, "notice-remittance-form-phone")
    client.get_by_role("button", name="Send remittance advice").click()
    expect(client.locator("table.notices")).to_contain_text("Remittance advice")
    client.goto(f"/invoices/{number}/")
    expect(client.locator(".payment-reported")).to_contain_text("Payment reported on")
    shot(client, "notice-payment-reported-phone")
    width = client.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width

    ops = signed_in(new_context, live_server, books.operator)
    ops.goto("/console/")
    card = ops.locator('[data-figure="remittances"]')
    expect(card.locator(".card-value")).to_have_text("1")
    card.click()
    ops.get_by_role("link", name="Record payment").click()
    expect(ops.locator("#from-advice")).to_contain_text("W-2044")
    expect(ops.get_by_label("Amount received")).to_have_value("10.50")
    console_shot(ops, "console-record-from-advice")
    ops.get_by_role("button", name="Record payment").click()
    expect(ops.locator("body")).to_contain_text("remittance advice is answered")
    payment = Payment.objects.get(reference="W-2044")
    notice = ClientNotice.objects.get()
    assert notice.status == "done" and notice.payment_id == payment.pk

    client.goto(f"/invoices/{number}/")
    expect(client.locator(".payment-reported")).to_have_count(0)


def test_advice_is_answered_by_a_payment_recorded_from_the_payments_form(
    books, new_context, live_server
):
    """The operator records the payment the ordinary way: the form asks which waiting
    advice it answers, and the client then sees it matched and no longer reported."""
    client = signed_in(new_context, live_server, books.client_user)
    number = books.november.display_number
    client.goto(f"/invoices/{number}/")
    client.get_by_role("link", name="I've paid this").click()
    client.get_by_label("Amount paid").fill("10.50")
    client.get_by_label("How you paid").select_option("ach")
    client.get_by_label("Payment reference (optional)").fill("ACH-7731")
    client.get_by_role("button", name="Send remittance advice").click()
    client.goto(f"/invoices/{number}/")
    expect(client.locator(".payment-reported")).to_contain_text("Payment reported on")

    ops = signed_in(new_context, live_server, books.operator)
    ops.goto("/console/payments/new/")
    ops.get_by_label("Client").select_option(str(books.acme.pk))
    expect(ops.get_by_label("Currency")).to_have_value("USD")
    ops.get_by_label("Amount received").fill("10.50")
    ops.get_by_label("Reference", exact=False).first.fill("ACH-7731")
    ops.get_by_label("Payer").click()  # the reference's change event
    # Oldest first: all of October's $7.00, then $3.50 on November's.
    expect(ops.get_by_label(f"Allocate to {books.october.display_number}")).to_have_value("7.00")
    answers = ops.locator("#pay-answers")
    expect(answers).to_contain_text("This client reported a payment not yet recorded.")
    expect(answers).to_contain_text("reference ACH-7731")
    ops.get_by_role("button", name="Record payment").click()
    # Unanswered, the form asks, next to the list.
    expect(ops.locator("#pay-answers-error")).to_contain_text("tick the one this payment answers")
    console_shot(ops, "console-record-asks-for-advice")
    notice = ClientNotice.objects.get()
    ops.locator(f'label[data-advice="{notice.pk}"] input').check()
    ops.get_by_role("button", name="Record payment").click()
    expect(ops.locator("body")).to_contain_text("remittance advice is answered")
    notice.refresh_from_db()
    payment = Payment.objects.get(reference="ACH-7731")
    assert notice.status == "done" and notice.payment_id == payment.pk

    client.goto(f"/invoices/{number}/")
    expect(client.locator(".payment-reported")).to_have_count(0)
    client.goto("/requests/")
    expect(client.locator("table.notices tbody tr").first).to_contain_text(
        "Matched to your payment of $10.50 received"
    )
    shot(client, "notice-remittance-matched")

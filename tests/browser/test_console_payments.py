"""An operator records a payment in Chromium with the suggested allocation changed,
corrects a misapplied payment, and refunds credit; the client sees the refund."""

from dataclasses import dataclass
from datetime import date

import pytest
from playwright.sync_api import expect

from tally.accounts.models import Role, User
from tally.clients.models import Client
from tally.invoicing.models import Invoice, InvoiceStatus
from tally.payments.models import Allocation, Payment, Refund
from tests.browser.conftest import session_cookie
from tests.browser.test_console_disputes import console_shot
from tests.factories import issued_invoice, make_client, make_user, pay

NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


@dataclass
class Books:
    operator: User
    client_user: User
    acme: Client
    october: Invoice  # $3.50, due first
    november: Invoice  # $7.00


@pytest.fixture
def books(tx_db, live_server, browser) -> Books:
    acme = make_client("acme")
    make_client("globex")
    return Books(
        operator=User.objects.create_user("ops@northwind.example", None, role=Role.OPERATOR),
        client_user=make_user(Role.CLIENT_USER, client=acme, email="ap@acme.example"),
        acme=acme,
        october=issued_invoice(acme, picks=10, issue_date=date(2026, 11, 1)),
        november=issued_invoice(acme, picks=20, period=NOVEMBER, issue_date=date(2026, 12, 1)),
    )


def console(new_context, live_server, books, **options):
    context = new_context(**options)
    context.add_cookies([session_cookie(books.operator, live_server.url)])
    return context.new_page()


def test_recording_a_payment_with_the_suggestion_changed(books, new_context, live_server):
    page = console(new_context, live_server, books)
    page.goto("/console/payments/")
    page.get_by_role("link", name="Record a payment").click()
    page.get_by_label("Client").select_option(str(books.acme.pk))
    # htmx brings the client's open invoices and its currency.
    expect(page.get_by_label("Currency")).to_have_value("USD")
    october_amount = page.get_by_label(f"Allocate to {books.october.display_number}")
    november_amount = page.get_by_label(f"Allocate to {books.november.display_number}")
    expect(october_amount).to_have_value("0.00")
    page.get_by_label("Amount received").fill("9.00")
    page.get_by_label("Reference", exact=False).first.fill(f"inv {books.november.number}")
    page.get_by_label("Payer").click()  # the reference's change event
    # The invoice the reference names comes first: $7.00 on November's, $2.00 on October's.
    expect(november_amount).to_have_value("7.00")
    expect(october_amount).to_have_value("2.00")
    expect(page.locator(f'tr[data-invoice="{books.november.pk}"]')).to_contain_text(
        "named in the reference"
    )
    console_shot(page, "console-payment-suggested")
    # The operator keeps $1.00 back as credit.
    october_amount.fill("1.00")
    page.get_by_label("Payer").fill("Acme AP")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_contain_text("Payment recorded.")
    expect(page.locator("[data-unapplied]")).to_have_text("$1.00")
    console_shot(page, "console-payment-recorded")
    payment = Payment.objects.get()
    assert dict(Allocation.objects.values_list("invoice_id", "amount_minor")) == {
        books.november.pk: 700,
        books.october.pk: 100,
    }
    # Reloading the confirmation records nothing more; going back and sending again neither.
    page.reload()
    page.go_back()
    assert Payment.objects.count() == 1 and payment.unapplied_minor == 100


def test_without_javascript_the_suggest_button_fills_the_allocation(
    books, new_context, live_server
):
    page = console(new_context, live_server, books, java_script_enabled=False)
    page.goto(f"/console/payments/new/?client={books.acme.pk}")
    page.get_by_label("Amount received").fill("4.00")
    page.get_by_role("button", name="Suggest allocation").click()
    expect(page.get_by_label(f"Allocate to {books.october.display_number}")).to_have_value("3.50")
    expect(page.get_by_label(f"Allocate to {books.november.display_number}")).to_have_value("0.50")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_contain_text("Payment recorded.")
    books.october.refresh_from_db()
    assert books.october.status == InvoiceStatus.PAID


def test_a_misapplied_payment_is_taken_back_and_put_on_the_right_invoice(
    books, new_context, live_server
):
    payment = pay(books.acme, 350, invoice=books.november, reference="for october").payment
    page = console(new_context, live_server, books)
    page.goto(f"/console/payments/{payment.pk}/")
    console_shot(page, "console-payment-misapplied")
    page.get_by_label(f"Take back from {books.november.display_number}").fill("3.50")
    page.get_by_label(f"Put on {books.october.display_number}").fill("3.50")
    page.get_by_role("button", name="Save allocation").click()
    expect(page.get_by_role("status")).to_contain_text("Allocation corrected.")
    expect(page.locator(f'tr[data-allocation="{books.october.pk}"]')).to_contain_text("Paid")
    expect(page.locator("#history")).to_contain_text("Taken back (misapplied)")
    console_shot(page, "console-payment-reallocated")
    books.october.refresh_from_db()
    books.november.refresh_from_db()
    assert (books.october.status, books.november.balance_minor) == ("paid", 700)


def test_credit_is_refunded_and_the_client_sees_the_refund(books, new_context, live_server):
    payment = pay(books.acme, 1500, auto_allocate=False, reference="overpaid").payment
    page = console(new_context, live_server, books)
    page.goto("/console/payments/credit/")
    expect(page.locator(f'tr[data-client="{books.acme.pk}"]')).to_contain_text("$15.00")
    page.locator(f'tr[data-client="{books.acme.pk}"]').get_by_role("link").click()
    page.get_by_role("link", name=f"#{payment.pk}").click()
    # Too much first: the error sits next to the amount.
    page.get_by_label("Amount to refund", exact=False).fill("15.01")
    page.get_by_role("button", name="Record refund").click()
    expect(page.locator("#refund-amount-error")).to_contain_text("Must be at most $15.00")
    page.get_by_label("Amount to refund", exact=False).fill("5.00")
    page.get_by_label("Reference", exact=True).fill("RF-2026-12")
    page.get_by_role("button", name="Record refund").click()
    expect(page.get_by_role("status")).to_contain_text("Refund recorded.")
    expect(page.locator("#refunds")).to_contain_text("RF-2026-12")
    expect(page.locator("[data-unapplied]")).to_have_text("$10.00")
    console_shot(page, "console-payment-refunded")
    assert Refund.objects.get().amount_minor == 500

    client = new_context()
    client.add_cookies([session_cookie(books.client_user, live_server.url)])
    portal = client.new_page()
    portal.goto("/payments/")
    expect(portal.locator("main")).to_contain_text("Refunded $5.00")
    expect(portal.locator("#account-credit")).to_contain_text("$10.00")
    console_shot(portal, "portal-payments-refund")

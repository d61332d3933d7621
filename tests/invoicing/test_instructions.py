"""How to pay depends on the invoice's currency: a EUR payer needs an IBAN, not a US
routing number. Printed on the PDF, in the invoice email, in reminder emails and in the
portal."""

import json

import pytest

from tally.invoicing.instructions import payment_instructions
from tests.fresh_settings import settings_in_a_fresh_process

SEPA = "SEPA: Harbor 3PL B.V.\nIBAN NL91 ABNA 0417 1643 00\nBIC ABNANL2A"
ACH = "ACH: Harbor 3PL, routing 021000021, account 4410"


@pytest.fixture
def two_banks(settings):
    settings.TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY = {"USD": ACH, "EUR": SEPA}
    settings.TALLY_OPERATOR_NAME = "Harbor 3PL"
    settings.TALLY_OPERATOR_CONTACT = "billing@harbor.example"


def test_a_currency_gets_its_own_bank_and_one_without_is_told_whom_to_ask(two_banks):
    assert payment_instructions("EUR") == SEPA
    assert payment_instructions("eur") == SEPA
    assert payment_instructions("USD") == ACH
    # A JPY payer was sent to the USD account; now to the operator, and to no account.
    assert payment_instructions("JPY") == (
        "For how to pay in JPY, contact Harbor 3PL at billing@harbor.example."
    )


def _configured(env: dict[str, str]) -> dict[str, str]:
    """The instructions a fresh process builds from these environment variables."""
    out = settings_in_a_fresh_process(env, "TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY")
    assert out.returncode == 0, out.stderr
    (by_currency,) = json.loads(out.stdout)
    return by_currency


def test_an_operator_who_sets_their_own_bank_never_gets_the_demo_accounts():
    written = SEPA.replace("\n", "\\n")  # as an environment variable carries it
    assert _configured({"TALLY_PAYMENT_INSTRUCTIONS_USD": ACH}) == {"USD": ACH}
    both = {"TALLY_PAYMENT_INSTRUCTIONS_USD": ACH, "TALLY_PAYMENT_INSTRUCTIONS_EUR": written}
    assert _configured(both) == {"USD": ACH, "EUR": SEPA}


def test_instructions_without_a_currency_are_refused_with_what_to_do():
    """It used to be the text for every currency without its own: a CAD payer got ACH."""
    out = settings_in_a_fresh_process(
        {"TALLY_PAYMENT_INSTRUCTIONS": ACH}, "TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY"
    )
    assert out.returncode != 0 and "TALLY_PAYMENT_INSTRUCTIONS_USD" in out.stderr


def test_an_empty_variable_counts_as_unset():
    by_currency = _configured({"TALLY_PAYMENT_INSTRUCTIONS_USD": " "})
    assert "Routing" in by_currency["USD"] and "IBAN" in by_currency["EUR"]


def test_the_demo_has_a_bank_for_each_of_its_currencies_until_one_is_set():
    by_currency = _configured({})
    assert "Routing" in by_currency["USD"] and "IBAN" in by_currency["EUR"]
    assert "Sort code" in by_currency["GBP"] and "transit" in by_currency["CAD"]
    assert "branch" in by_currency["JPY"]
    # A variable that is not an ISO code is not taken for one.
    by_currency = _configured({"TALLY_PAYMENT_INSTRUCTIONS_EURO": "x"})
    assert "EURO" not in by_currency and "IBAN" in by_currency["EUR"]


@pytest.mark.django_db
def test_a_euro_invoice_pdf_and_reminder_say_how_to_pay_in_euro(two_banks, mailoutbox):
    from datetime import date

    from tally.portal import queries
    from tally.portal.pdf import render_invoice_pdf
    from tally.reminders.services import send_due_reminders
    from tests.factories import issued_invoice, make_client
    from tests.portal.test_pdf import pdf_text, squash

    berlin = make_client("berlin", currency="EUR")
    boston = make_client("boston", currency="USD")
    for client in (berlin, boston):
        invoice = issued_invoice(client, picks=100)
        detail = queries.invoice_detail(client.pk, invoice.pk, date(2026, 11, 20))
        _, _, text = pdf_text(render_invoice_pdf(queries.client_header(client.pk), detail, "en_US"))
        expected, other = (SEPA, ACH) if client is berlin else (ACH, SEPA)
        assert squash(expected) in text and squash(other) not in text

    send_due_reminders(today=date(2026, 11, 28))
    bodies = {msg.to[0]: msg.body for msg in mailoutbox}
    indented = "\n".join(f"  {line}" for line in SEPA.splitlines())
    assert indented in bodies["ap@berlin.example"] and ACH not in bodies["ap@berlin.example"]
    assert ACH in bodies["ap@boston.example"] and "IBAN" not in bodies["ap@boston.example"]


@pytest.mark.django_db
def test_a_currency_without_instructions_is_told_whom_to_ask(two_banks, mailoutbox):
    from datetime import date

    from tally.portal import queries
    from tally.portal.pdf import render_invoice_pdf
    from tally.reminders.services import send_due_reminders
    from tests.factories import issued_invoice, make_client
    from tests.portal.test_pdf import pdf_text, squash

    tokyo = make_client("tokyo", currency="JPY")
    invoice = issued_invoice(tokyo, picks=100)
    detail = queries.invoice_detail(tokyo.pk, invoice.pk, date(2026, 11, 20))
    _, _, text = pdf_text(render_invoice_pdf(queries.client_header(tokyo.pk), detail, "en_US"))
    ask = "For how to pay in JPY, contact Harbor 3PL at billing@harbor.example."
    assert squash(ask) in text and "routing" not in text and "IBAN" not in text
    send_due_reminders(today=date(2026, 11, 28))
    assert ask in mailoutbox[0].body and "routing" not in mailoutbox[0].body


def _emailed(client, mailoutbox, **invoice):
    """The email of an invoice of `client`'s, as the worker sends it on issue."""
    from tally.audit.actors import SystemActor
    from tally.invoicing.emails import deliver_invoice_email, request_invoice_email
    from tests.factories import issued_invoice

    invoice = issued_invoice(client, **invoice)
    email = request_invoice_email(actor=SystemActor.TESTS, client=client, invoice_id=invoice.pk)
    assert deliver_invoice_email(email.pk, attempt=1, final=True)["sent"] == 1
    [message] = mailoutbox
    mailoutbox.clear()
    return invoice, message.body


@pytest.mark.django_db
def test_the_invoice_email_says_how_to_pay_in_the_invoices_currency(two_banks, mailoutbox):
    from tests.factories import make_client

    berlin = make_client("berlin", currency="EUR")
    invoice, body = _emailed(berlin, mailoutbox, picks=100)
    indented = "\n".join(f"  {line}" for line in SEPA.splitlines())
    assert f"How to pay:\n{indented}\n" in body
    assert f"  Please quote {invoice.display_number} as the payment reference.\n" in body
    assert "routing" not in body and "Harbor 3PL, routing" not in body

    boston = make_client("boston", currency="USD")
    _, body = _emailed(boston, mailoutbox, picks=100)
    assert f"How to pay:\n  {ACH}\n" in body and "IBAN" not in body


@pytest.mark.django_db
def test_the_invoice_email_in_a_currency_without_instructions_says_whom_to_ask(
    two_banks, mailoutbox
):
    from tests.factories import make_client

    tokyo = make_client("tokyo", currency="JPY")
    _, body = _emailed(tokyo, mailoutbox, picks=100)
    ask = "For how to pay in JPY, contact Harbor 3PL at billing@harbor.example."
    assert f"How to pay:\n  {ask}\n" in body
    assert "routing" not in body and "IBAN" not in body


@pytest.mark.django_db
def test_an_invoice_email_with_nothing_to_pay_gives_no_bank_details(two_banks, mailoutbox):
    from tests.factories import make_client, pay

    berlin = make_client("berlin", currency="EUR")
    pay(berlin, 10_000, auto_allocate=False)  # 100.00 of credit pays the 35.00 at issue
    invoice, body = _emailed(berlin, mailoutbox, picks=100)
    assert invoice.balance_minor == 0
    assert "Balance due: nothing: your credit with us has paid it" in body
    assert "How to pay" not in body and "IBAN" not in body

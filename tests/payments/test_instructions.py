"""How to pay depends on the invoice's currency: a EUR payer needs an IBAN, not a US
routing number. Printed on the PDF, in reminder emails and in the portal."""

import json

import pytest

from tally.payments.instructions import payment_instructions
from tests.fresh_settings import settings_in_a_fresh_process

SEPA = "SEPA: Harbor 3PL B.V.\nIBAN NL91 ABNA 0417 1643 00\nBIC ABNANL2A"
ACH = "ACH: Harbor 3PL, routing 021000021, account 4410"


@pytest.fixture
def two_banks(settings):
    settings.TALLY_PAYMENT_INSTRUCTIONS = ACH
    settings.TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY = {"EUR": SEPA}


def test_a_currency_with_its_own_bank_gets_it_and_the_others_the_default(two_banks):
    assert payment_instructions("EUR") == SEPA
    assert payment_instructions("eur") == SEPA
    assert payment_instructions("USD") == ACH
    assert payment_instructions("JPY") == ACH


def _configured(env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The settings a fresh process builds from these environment variables."""
    out = settings_in_a_fresh_process(
        env, "TALLY_PAYMENT_INSTRUCTIONS", "TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY"
    )
    assert out.returncode == 0, out.stderr
    default, by_currency = json.loads(out.stdout)
    return default, by_currency


def test_an_operator_who_sets_their_own_bank_never_gets_the_demo_accounts():
    written = SEPA.replace("\n", "\\n")  # as an environment variable carries it
    default, by_currency = _configured({"TALLY_PAYMENT_INSTRUCTIONS": ACH})
    assert (default, by_currency) == (ACH, {})
    default, by_currency = _configured(
        {"TALLY_PAYMENT_INSTRUCTIONS": ACH, "TALLY_PAYMENT_INSTRUCTIONS_EUR": written}
    )
    assert (default, by_currency) == (ACH, {"EUR": SEPA})
    # Only a currency of their own: no demo text for any other currency either.
    default, by_currency = _configured({"TALLY_PAYMENT_INSTRUCTIONS_EUR": written})
    assert (default, by_currency) == ("", {"EUR": SEPA})


def test_an_empty_variable_counts_as_unset():
    default, by_currency = _configured({"TALLY_PAYMENT_INSTRUCTIONS": " "})
    assert "routing" in default and "IBAN" in by_currency["EUR"]


def test_the_demo_has_a_bank_for_each_of_its_currencies_until_one_is_set():
    default, by_currency = _configured({})
    assert "routing" in default
    assert "IBAN" in by_currency["EUR"] and "Sort code" in by_currency["GBP"]
    # A variable that is not an ISO code is not taken for one.
    _, by_currency = _configured({"TALLY_PAYMENT_INSTRUCTIONS_EURO": "x"})
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
def test_a_currency_without_instructions_gets_no_empty_how_to_pay(settings, mailoutbox):
    from datetime import date

    from tally.portal import queries
    from tally.portal.pdf import render_invoice_pdf
    from tally.reminders.services import send_due_reminders
    from tests.factories import issued_invoice, make_client
    from tests.portal.test_pdf import pdf_text

    settings.TALLY_PAYMENT_INSTRUCTIONS = ""
    settings.TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY = {"EUR": SEPA}
    boston = make_client("boston", currency="USD")
    invoice = issued_invoice(boston, picks=100)
    detail = queries.invoice_detail(boston.pk, invoice.pk, date(2026, 11, 20))
    _, _, text = pdf_text(render_invoice_pdf(queries.client_header(boston.pk), detail, "en_US"))
    assert "HOW TO PAY" not in text and "Balance due" in text
    send_due_reminders(today=date(2026, 11, 28))
    assert "How to pay" not in mailoutbox[0].body and "Amount due" in mailoutbox[0].body

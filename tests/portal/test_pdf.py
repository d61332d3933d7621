import dataclasses
from datetime import date

import pytest
from django.conf import settings
from django.test import Client as WebClient
from django.urls import reverse

from tally.accounts.models import Role
from tally.actions.invoices import create_credit_note, issue_invoice
from tally.audit.actors import SystemActor
from tally.clients.services import create_client
from tally.invoicing.services import add_adjustment
from tally.money import format_money
from tally.portal import queries
from tally.portal.pdf import render_invoice_pdf, safe_text
from tally.rating.services import create_rate_card
from tests.factories import (
    DEFAULT_PRICES,
    draft_invoice,
    issued_invoice,
    make_client,
    make_user,
    pay,
    voided_invoice,
)
from tests.pdfs import pdf_text, save_artifact, squash

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)


def render(client, invoice, locale: str = "en_US") -> bytes:
    header = queries.client_header(client.pk)
    detail = queries.invoice_detail(client.pk, invoice.pk, TODAY)
    return render_invoice_pdf(header, detail, locale)


@pytest.fixture
def billed():
    """A taxed USD invoice with two lines, a payment and a credit note."""
    client = make_client("harbor", tax_rate_bp=825)
    invoice = issued_invoice(client, picks=1200, labels=800)  # 420.00 + 36.00, tax 37.62
    pay(
        client,
        20000,
        invoice=invoice,
        received_on=date(2026, 11, 12),
        method="wire",
        reference="FED-pay-1",
        payer="Harbor Treasury",
    )
    create_credit_note(
        actor=SystemActor.TESTS,
        client=client,
        invoice_id=invoice.pk,
        amount_minor=1500,
        reason="Forty labels were voided at the carrier before pickup",
    )
    return client, invoice


def test_the_invoice_pdf_shows_everything_the_client_needs_to_pay_it(billed):
    client, invoice = billed
    pdf = render(client, invoice)
    save_artifact("invoice.pdf", pdf)
    pages, _, text = pdf_text(pdf)

    assert pages == 1
    assert settings.TALLY_OPERATOR_NAME in text
    assert "INVOICE" in text
    assert invoice.display_number in text
    assert "Harbor Inc." in text
    for line in client.address.splitlines():
        assert line in text
    assert "Issue date Nov 1, 2026" in text
    assert "Due date Dec 1, 2026" in text
    assert "Terms Net 30 days" in text
    # From whom: the 3PL's address, contact and tax registration, as AP files an invoice.
    assert "2200 Harbor Industrial Pkwy, Port City, CA 94607, United States" in text
    assert "billing@northwind.example · EIN 94-1234567" in text
    assert "Service period Oct 1, 2026 – Oct 31, 2026" in text
    assert "Picks at 0.3500 USD 1,200 0.3500 $420.00" in text
    assert "Shipping labels at 0.0450 USD 800 0.0450 $36.00" in text
    assert "Subtotal $456.00" in text
    assert "Tax (8.25%) $37.62" in text
    assert "Total $493.62" in text
    assert "Nov 12, 2026 Wire transfer FED-pay-1 Harbor Treasury $200.00" in text
    assert "Payments received -$200.00" in text
    assert "CN-" in text
    assert "Forty labels were voided at the carrier before pickup" in text
    assert "Credits -$15.00" in text
    assert "Balance due $278.62" in text
    assert squash(settings.TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY["USD"]) in text
    assert "Page 1 of 1" in text


def test_the_balance_printed_is_what_the_portal_says_is_owed(billed):
    client, invoice = billed
    detail = queries.invoice_detail(client.pk, invoice.pk, TODAY)
    _, _, text = pdf_text(render(client, invoice))
    assert detail.row.balance_minor == 493_62 - 200_00 - 15_00
    assert f"Balance due {format_money(detail.row.balance_minor, 'USD')}" in text


@pytest.mark.parametrize(
    ("currency", "prices", "total"),
    [
        ("USD", DEFAULT_PRICES, "$420.00"),
        ("EUR", DEFAULT_PRICES, "€420.00"),
        ("GBP", DEFAULT_PRICES, "£420.00"),
        ("CAD", DEFAULT_PRICES, "CA$420.00"),
        ("JPY", {**DEFAULT_PRICES, "pick": "35"}, "¥42,000"),
    ],
)
def test_every_demo_currency_prints_with_its_symbol_and_exponent(currency, prices, total):
    client = make_client(f"c-{currency.lower()}", currency=currency, prices=prices)
    invoice = issued_invoice(client, picks=1200)
    _, _, text = pdf_text(render(client, invoice))
    assert f"Total {total}" in text
    assert f"Balance due {total}" in text


def test_a_euro_invoice_in_a_german_locale_puts_the_sign_after_the_amount():
    client = make_client("berlin", currency="EUR", tax_rate_bp=1900)
    invoice = issued_invoice(client, picks=1200)  # 420.00 + 19% = 499.80
    pdf = render(client, invoice, locale="de_DE")
    save_artifact("invoice-eur-de.pdf", pdf)
    _, _, text = pdf_text(pdf)
    assert "420,00 €" in text
    assert "Steuer" not in text  # labels stay English; numbers and dates follow the locale
    assert "Tax (19%) 79,80 €" in text
    assert "Total 499,80 €" in text
    assert "01.11.2026" in text


def test_a_yen_invoice_has_no_decimals_and_rounds_each_line_half_up():
    client = make_client("tokyo", currency="JPY", prices={**DEFAULT_PRICES, "label": "4.5"})
    invoice = issued_invoice(client, picks=0, labels=3)  # 3 × 4.5 = 13.5 → 14
    _, _, text = pdf_text(render(client, invoice))
    assert "Shipping labels at 4.5000 JPY 3 4.5000 ¥14" in text
    assert "Total ¥14" in text
    assert "¥14.00" not in text


def test_currency_signs_print_and_one_the_font_lacks_prints_as_the_iso_code():
    mumbai = make_client("mumbai", currency="INR")
    _, _, text = pdf_text(render(mumbai, issued_invoice(mumbai, picks=1200)))
    assert "Total ₹420.00" in text

    tbilisi = make_client("tbilisi", currency="GEL")
    invoice = issued_invoice(tbilisi, picks=1200)
    assert format_money(42000, "GEL", "ka_GE") == "420,00\xa0₾"  # what the page would show
    _, _, text = pdf_text(render(tbilisi, invoice, locale="ka_GE"))
    assert "GEL 420,00" in text
    assert "₾" not in text


def test_names_print_as_written_and_what_the_font_lacks_never_breaks_the_pdf(billed):
    client, invoice = billed
    header = dataclasses.replace(
        queries.client_header(client.pk),
        name="Łódź Spedycja 東京",
        address="ul. Piotrkowska 1\n90-001 Łódź\nΑθήνα, Ελλάδα\nМосква",
    )
    detail = queries.invoice_detail(client.pk, invoice.pk, TODAY)
    _, _, text = pdf_text(render_invoice_pdf(header, detail))
    assert "Łódź Spedycja ??" in text  # no CJK glyphs in the font
    assert "90-001 Łódź Αθήνα, Ελλάδα Москва" in text
    assert safe_text("Müller — €5 ₹5 ₾5 東") == "Müller — €5 ₹5 ?5 ?"


def test_a_long_invoice_paginates_with_every_line_and_page_numbers():
    client = make_client("bulk")
    draft = draft_invoice(client, picks=10)
    for i in range(1, 121):
        add_adjustment(
            actor=SystemActor.TESTS,
            client=client,
            invoice_id=draft.pk,
            description=f"Dock appointment {i:03d}",
            amount_minor=1000 + i,
            reason=f"Booked dock slot {i:03d}",
        )
    invoice = issue_invoice(
        actor=SystemActor.TESTS, client=client, invoice_id=draft.pk, issue_date=TODAY
    )
    pdf = render(client, invoice)
    save_artifact("invoice-long.pdf", pdf)
    pages, page_texts, text = pdf_text(pdf)

    assert pages > 1
    for i in range(1, 121):
        assert f"Dock appointment {i:03d}" in text
        assert f"Reason: Booked dock slot {i:03d} 1 — {format_money(1000 + i, 'USD')}" in text
    for n, page in enumerate(page_texts, start=1):
        assert f"Page {n} of {pages}" in squash(page)
        assert invoice.display_number in page
    assert "Description" in page_texts[1]  # the table's headings repeat on the next page
    assert f"Balance due {format_money(invoice.total_minor, 'USD')}" in squash(page_texts[-1])
    assert squash(settings.TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY["USD"]) in text


def test_a_paid_invoice_says_so():
    client = make_client("settled")
    invoice = issued_invoice(client, picks=10)
    pay(client, 350, invoice=invoice)
    pdf = render(client, invoice)
    save_artifact("invoice-paid.pdf", pdf)
    _, _, text = pdf_text(pdf)
    assert "PAID" in text
    assert "Paid in full" in text
    assert "Balance due $0.00" in text
    assert "HOW TO PAY" not in text


def test_a_paid_invoice_under_dispute_still_says_paid_and_asks_for_nothing():
    from tally.disputes.services import open_dispute

    client = make_client("settled-then-disputed")
    invoice = issued_invoice(client, picks=10)
    pay(client, 350, invoice=invoice)
    clerk = make_user(role=Role.CLIENT_USER, client=client, email="ap@settled.example")
    open_dispute(actor=clerk, client=client, invoice_id=invoice.pk, reason="Picks billed twice")
    _, _, text = pdf_text(render(client, invoice))
    assert "DISPUTED" in text and "PAID" in text.replace("UNPAID", "")
    assert "Balance due $0.00" in text
    assert "HOW TO PAY" not in text


def test_a_void_invoice_says_why_and_asks_for_nothing(operator):
    client = make_client("voided")
    invoice = voided_invoice(client, picks=10, reason="Billed twice", actor=operator)
    pdf = render(client, invoice)
    save_artifact("invoice-void.pdf", pdf)
    _, _, text = pdf_text(pdf)
    assert "VOID" in text
    assert "This invoice has been voided: Billed twice. Nothing is owed on it." in text
    assert "Balance due $0.00" in text
    assert "HOW TO PAY" not in text


def test_an_overdue_invoice_says_when_it_was_due():
    client = make_client("late")
    invoice = issued_invoice(client, picks=10)  # due Dec 1, 2026
    header = queries.client_header(client.pk)
    detail = queries.invoice_detail(client.pk, invoice.pk, date(2026, 12, 15))
    _, _, text = pdf_text(render_invoice_pdf(header, detail))
    assert "OVERDUE" in text
    assert "Overdue: $3.50 was due on Dec 1, 2026" in text


def test_a_client_without_an_address_still_gets_an_invoice():
    client = create_client(
        actor=SystemActor.TESTS,
        name="Bare Co",
        code="bare",
        currency="USD",
        payment_terms_days=15,
        time_zone="UTC",
        tax_rate_bp=None,
        address="",
        billing_contacts=[("AP", "ap@bare.example")],
    )
    create_rate_card(
        actor=SystemActor.TESTS,
        client=client,
        effective_from=date(2026, 1, 1),
        prices=DEFAULT_PRICES,
    )
    invoice = issued_invoice(client, picks=10)
    _, _, text = pdf_text(render(client, invoice))
    assert "Bare Co" in text
    assert "Tax" not in text


# -- through the portal ------------------------------------------------------------------
def test_a_client_user_downloads_their_invoice_pdf(acme):
    invoice = issued_invoice(acme, picks=10)
    pay(acme, 100, invoice=invoice, reference="FED-acme-1")
    url = reverse("portal:invoice_pdf", args=[invoice.display_number])
    web = WebClient()
    web.force_login(make_user(role=Role.CLIENT_USER, client=acme))

    response = web.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{invoice.display_number}.pdf"' in response["Content-Disposition"]
    _, _, text = pdf_text(response.content)
    assert settings.TALLY_OPERATOR_NAME in text
    assert invoice.display_number in text
    assert "Acme Inc." in text
    assert "Total $3.50" in text
    assert "FED-acme-1" in text
    assert "Balance due $2.50" in text


def test_another_clients_user_gets_404_for_the_same_pdf(acme, globex):
    invoice = issued_invoice(acme, picks=10)
    url = reverse("portal:invoice_pdf", args=[invoice.display_number])
    web = WebClient()
    web.force_login(make_user(role=Role.CLIENT_USER, client=globex))

    assert web.get(url).status_code == 404


def test_a_draft_has_no_pdf(acme):
    draft = draft_invoice(acme, picks=5)
    web = WebClient()
    web.force_login(make_user(role=Role.CLIENT_USER, client=acme))
    # A draft has no number; the next number it might get must not reveal it either.
    assert web.get(reverse("portal:invoice_pdf", args=["INV-000001"])).status_code == 404
    assert draft.number is None


def test_signed_out_visitors_are_sent_to_log_in(acme):
    invoice = issued_invoice(acme, picks=10)
    response = WebClient().get(reverse("portal:invoice_pdf", args=[invoice.display_number]))
    assert response.status_code == 302


def test_every_payment_method_has_a_printed_label():
    from tally.payments.models import PaymentMethod
    from tally.portal.formatting import method_label

    for method in PaymentMethod:
        assert method_label(method.value) == method.label


@pytest.mark.parametrize("extra_lines", range(22, 30))
def test_how_to_pay_is_never_alone_on_a_page_of_its_own(extra_lines):
    """Printed last, it used to fall to page 2 alone when the lines ended low on page 1."""
    client = make_client("lowpage")
    draft = draft_invoice(client, picks=10)
    for i in range(extra_lines):
        add_adjustment(
            actor=SystemActor.TESTS,
            client=client,
            invoice_id=draft.pk,
            description=f"Dock appointment {i:03d}",
            amount_minor=1000 + i,
            reason=f"Booked dock slot {i:03d}",
        )
    invoice = issue_invoice(
        actor=SystemActor.TESTS, client=client, invoice_id=draft.pk, issue_date=TODAY
    )
    _, page_texts, _ = pdf_text(render(client, invoice))
    (page,) = [p for p in page_texts if "HOW TO PAY" in p]
    assert "Balance due" in squash(page), (extra_lines, len(page_texts))

"""The statement of account: opening balance, every movement in date order with the
balance after it, closing balance, per currency; and the identity that ties it to the
billing page: the closing balance today is the total outstanding less unapplied credit."""

from dataclasses import dataclass
from datetime import date

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tally.accounts.models import Role
from tally.actions.invoices import create_credit_note
from tally.actions.payments import refund_credit
from tally.audit.actors import SystemActor
from tally.clients.models import Client
from tally.invoicing.models import Invoice
from tally.payments.models import Payment
from tally.portal import queries
from tally.portal.statement_pdf import render_statement_pdf
from tests.factories import issued_invoice, make_client, make_user, pay, voided_invoice
from tests.pdfs import pdf_text, save_artifact

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 25)  # the tests' clock: 2026-11-25 12:00 UTC
SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))


def owed(client: Client, currency: str) -> int:
    """What the billing page says is owed in `currency`: the invoices' balances (the
    "Total outstanding" card) less the unapplied credit, computed from the rows."""
    balances = Invoice.objects.filter(client=client, currency=currency, status="open").aggregate(
        s=Sum("balance_minor")
    )["s"]
    credit = Payment.objects.filter(client=client, currency=currency).aggregate(
        s=Sum("unapplied_minor")
    )["s"]
    return (balances or 0) - (credit or 0)


@dataclass
class Ledger:
    client: Client
    august: Invoice  # issued Sep 1, before the range; half paid Sep 15
    october: Invoice  # issued Nov 1; paid Nov 10, then credited Nov 25
    voided: Invoice  # issued Nov 1, voided Nov 25
    overpaid_by: int


@pytest.fixture
def ledger(acme, globex) -> Ledger:
    august = issued_invoice(
        acme, picks=100, period=(date(2026, 8, 1), date(2026, 8, 31)), issue_date=date(2026, 9, 1)
    )  # 35.00
    pay(acme, 1500, invoice=august, received_on=date(2026, 9, 15), reference="CHK-1")
    october = issued_invoice(acme, picks=200)  # 70.00, Nov 1
    voided = voided_invoice(acme, picks=10, period=SEPTEMBER, reason="Billed twice")  # 3.50
    # 90.00 on Nov 10: 70.00 to October, 20.00 left as credit...
    pay(acme, 9000, allocations=[(october.pk, 7000)], received_on=date(2026, 11, 10),
        reference="WIRE-77", method="wire")  # fmt: skip
    create_credit_note(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=october.pk,
        amount_minor=1000,
        reason="Ten picks counted twice",
    )  # ...and 10.00 more credit once the paid invoice is credited
    payment = Payment.objects.get(client=acme, reference="WIRE-77")
    refund_credit(
        actor=SystemActor.TESTS,
        client=acme,
        payment_id=payment.pk,
        amount_minor=500,
        refunded_on=date(2026, 11, 20),
        method="wire",
        reference="RF-1",
    )
    # Another client's movements, on the same days.
    theirs = issued_invoice(globex, picks=999)
    pay(globex, 100, invoice=theirs, received_on=date(2026, 11, 10))
    return Ledger(acme, august, october, voided, overpaid_by=2000)


def test_a_statement_lists_every_movement_with_the_balance_after_it(ledger):
    result = queries.statement(ledger.client.pk, date(2026, 10, 1), TODAY)
    assert [c.currency for c in result.currencies] == ["USD"]
    usd = result.currencies[0]
    assert usd.opening_minor == 3500 - 1500  # August's invoice less its payment
    rows = [(e.day, e.kind, e.document, e.amount_minor, e.balance_minor) for e in usd.entries]
    october, voided = ledger.october.display_number, ledger.voided.display_number
    assert rows == [
        (date(2026, 11, 1), "invoice", october, 7000, 9000),  # each day in the order made
        (date(2026, 11, 1), "invoice", voided, 350, 9350),
        (date(2026, 11, 10), "payment", "WIRE-77", -9000, 350),
        (date(2026, 11, 20), "refund", "RF-1", 500, 850),
        (date(2026, 11, 25), "void", voided, -350, 500),
        (date(2026, 11, 25), "credit_note", ledger.october.credit_notes.get().display_number,
         -1000, -500),
    ]  # fmt: skip
    assert usd.entries[-1].balance_minor == usd.closing_minor == -500
    assert usd.opening_minor + sum(e.amount_minor for e in usd.entries) == usd.closing_minor
    assert usd.charges_minor == 7000 + 350 + 500 and usd.credits_minor == 9000 + 350 + 1000
    credit_note = usd.entries[-1]
    assert credit_note.invoice_number == october and credit_note.detail == "Ten picks counted twice"
    assert usd.entries[2].detail == "Wire transfer" and usd.entries[2].payment_id is not None


def test_the_closing_balance_today_is_the_outstanding_total_less_unapplied_credit(ledger):
    result = queries.statement(ledger.client.pk, date(2026, 11, 1), TODAY)
    cards = queries.stat_cards(ledger.client.pk, TODAY)
    closing = result.currencies[0].closing_minor
    assert (
        closing
        == cards.outstanding_minor - cards.unapplied_credit_minor
        == owed(ledger.client, "USD")
    )
    assert cards.outstanding_minor == 3500 - 1500 and cards.unapplied_credit_minor == 2500


def test_the_opening_balance_is_the_closing_balance_of_the_day_before(ledger):
    before = queries.statement(ledger.client.pk, date(2026, 9, 1), date(2026, 11, 9))
    after = queries.statement(ledger.client.pk, date(2026, 11, 10), TODAY)
    assert before.currencies[0].closing_minor == after.currencies[0].opening_minor == 2000 + 7350
    assert [e.kind for e in before.currencies[0].entries] == [
        "invoice", "payment", "invoice", "invoice",
    ]  # fmt: skip


def test_another_clients_movements_never_show(ledger, globex):
    theirs = queries.statement(globex.pk, date(2026, 1, 1), TODAY)
    assert [e.kind for e in theirs.currencies[0].entries] == ["invoice", "payment"]
    ours = queries.statement(ledger.client.pk, date(2026, 1, 1), TODAY)
    documents = {e.document for c in ours.currencies for e in c.entries}
    assert Invoice.objects.get(client=globex).display_number not in documents


def test_each_currency_has_its_own_statement_and_its_own_identity(acme):
    usd = issued_invoice(acme, picks=100)  # 35.00 USD, Nov 1
    pay(acme, 500, received_on=date(2026, 11, 13), auto_allocate=False)
    Client.objects.filter(pk=acme.pk).update(currency="EUR")
    acme.refresh_from_db()
    eur = issued_invoice(acme, picks=40, period=SEPTEMBER, issue_date=date(2026, 11, 2))
    pay(acme, 1000, invoice=eur, received_on=date(2026, 11, 12))
    result = queries.statement(acme.pk, date(2026, 11, 1), TODAY)
    assert [c.currency for c in result.currencies] == ["EUR", "USD"]  # its own first
    by_currency = {c.currency: c for c in result.currencies}
    assert [e.document for e in by_currency["USD"].entries] == [usd.display_number, ""]
    assert [e.amount_minor for e in by_currency["EUR"].entries] == [eur.total_minor, -1000]
    for currency, section in by_currency.items():
        assert section.closing_minor == owed(acme, currency)
    assert by_currency["USD"].closing_minor == 3500 - 500


def test_credit_notes_and_voids_fall_on_the_clients_day():
    """The clock says 2026-11-25 12:00 UTC: in Auckland it is already 01:00 on the 26th."""
    client = make_client("kiwi", time_zone="Pacific/Auckland")
    voided_invoice(client, picks=10)
    result = queries.statement(client.pk, date(2026, 11, 1), date(2026, 11, 25))
    assert [e.kind for e in result.currencies[0].entries] == ["invoice"]
    later = queries.statement(client.pk, date(2026, 11, 26), date(2026, 11, 26))
    assert [(e.day, e.kind) for e in later.currencies[0].entries] == [(date(2026, 11, 26), "void")]
    assert later.currencies[0].opening_minor == 350 and later.currencies[0].closing_minor == 0


def test_a_client_with_nothing_yet_gets_an_empty_statement_in_its_currency():
    client = make_client("fresh", currency="CAD")
    result = queries.statement(client.pk, date(2026, 11, 1), TODAY)
    assert [
        (c.currency, c.opening_minor, c.entries, c.closing_minor) for c in result.currencies
    ] == [("CAD", 0, [], 0)]


def test_the_statement_reads_a_fixed_number_of_statements_however_many_rows(acme):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            queries.statement(acme.pk, date(2026, 1, 1), TODAY)
        return len(captured.captured_queries)

    issued_invoice(acme, picks=10)
    few = count()
    for month in range(3, 9):
        invoice = issued_invoice(
            acme, picks=10, period=(date(2026, month, 1), date(2026, month, 28)),
            issue_date=date(2026, month + 1, 1),
        )  # fmt: skip
        pay(acme, 350, invoice=invoice, received_on=date(2026, month + 1, 5))
    assert count() == few


def test_a_range_must_be_in_order_and_at_most_a_year(acme):
    with pytest.raises(ValueError):
        queries.statement(acme.pk, date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(ValueError):
        queries.statement(acme.pk, date(2025, 10, 31), date(2026, 11, 1))  # 367 days
    assert queries.statement(acme.pk, date(2025, 11, 1), date(2026, 11, 1)).start == date(
        2025, 11, 1
    )


# -- the page and the PDF ----------------------------------------------------------------
@pytest.fixture
def browser(ledger) -> HttpClient:
    web = HttpClient()
    web.force_login(make_user(role=Role.CLIENT_USER, client=ledger.client))
    return web


def test_the_page_shows_the_range_and_is_in_the_portal_nav(ledger, browser):
    response = browser.get(
        reverse("portal:statement"), {"start": "2026-10-01", "end": "2026-11-25"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'aria-current="page">Statement</a>' in html
    assert "Opening balance" in html and "$20.00" in html
    assert "Closing balance" in html and "-$5.00" in html
    assert ledger.october.display_number in html and "WIRE-77" in html and "RF-1" in html
    assert "Ten picks counted twice" in html and "Billed twice" in html
    assert f"{reverse('portal:statement_pdf')}?start=2026-10-01&amp;end=2026-11-25" in html


def test_without_a_range_the_page_shows_the_last_three_months(browser):
    response = browser.get(reverse("portal:statement"))
    assert response.status_code == 200
    statement = response.context["statement"]
    assert (statement.start, statement.end) == (date(2026, 9, 1), TODAY)
    assert 'value="2026-09-01"' in response.content.decode()


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"start": "2026-11-10", "end": "2026-11-01"}, "end", "“To” must not be before “From”."),
        ({"start": "2026-13-01", "end": "2026-11-01"}, "start", "Enter the date as YYYY-MM-DD."),
        ({"start": "", "end": "2026-11-01"}, "start", "Enter a date."),
        ({"start": "2026-11-01", "end": "2026-11-26"}, "end", "must not be after today, Nov 25"),
        ({"start": "2025-01-01", "end": "2026-11-01"}, "end", "at most 366 days"),
    ],
)
def test_a_bad_range_is_an_error_next_to_its_field_and_keeps_what_was_typed(
    browser, query, field, message
):
    for name in ("portal:statement", "portal:statement_pdf"):
        response = browser.get(reverse(name), query)
        html = response.content.decode()
        assert response.status_code == 422 and response["Content-Type"].startswith("text/html")
        assert response.context["statement"] is None
        assert f'name="{field}" type="date" value="{query[field]}" aria-invalid="true" ' in html
        assert f'<p class="field-error" id="{field}-error">' in html and message in html


def test_the_pdf_says_what_the_page_says(ledger, browser):
    response = browser.get(
        reverse("portal:statement_pdf"), {"start": "2026-10-01", "end": "2026-11-25"}
    )
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'attachment; filename="statement-acme-2026-10-01-2026-11-25.pdf"'
    )
    save_artifact("statement.pdf", response.content)
    pages, _, text = pdf_text(response.content)
    assert pages == 1
    assert "STATEMENT" in text and "Oct 1, 2026 – Nov 25, 2026" in text
    assert "Acme Inc." in text and "Account acme" in text
    assert "Opening balance on Sep 30, 2026" in text
    assert "Opening balance $20.00" in text
    october, voided = ledger.october.display_number, ledger.voided.display_number
    assert f"Invoice {october}" in text and "Due Dec 1, 2026 $70.00" in text
    assert "Nov 10, 2026 Payment received Wire transfer · WIRE-77 $90.00" in text
    assert "Nov 20, 2026 Refund of credit Wire transfer · RF-1 $5.00 $8.50" in text
    assert f"Nov 25, 2026 Voided {voided} Billed twice $3.50 $5.00" in text
    assert f"On {october}: Ten picks counted twice $10.00 -$5.00" in text
    assert "Closing balance -$5.00" in text
    assert "Charges $78.50" in text and "Payments and credits -$103.50" in text


def test_a_long_statement_paginates_with_every_entry(acme):
    for month in range(1, 11):
        invoice = issued_invoice(
            acme, picks=10 * month, period=(date(2026, month, 1), date(2026, month, 28)),
            issue_date=date(2026, month + 1, 1),
        )  # fmt: skip
        for day in range(2, 26, 3):
            pay(acme, 10, invoice=invoice, received_on=date(2026, month + 1, day))
    result = queries.statement(acme.pk, date(2026, 1, 1), TODAY)
    pdf = render_statement_pdf(queries.client_header(acme.pk), result)
    save_artifact("statement-long.pdf", pdf)
    pages, page_texts, text = pdf_text(pdf)
    assert len(result.currencies[0].entries) == 90 and pages >= 2
    assert f"Page {pages} of {pages}" in page_texts[-1]
    assert "(continued)" in page_texts[1]
    assert text.count("Payment received") == 80
    closing = result.currencies[0].closing_minor
    assert closing == owed(acme, "USD")
    assert f"Closing balance ${closing / 100:,.2f}" in text


def test_signed_out_visitors_are_sent_to_sign_in(ledger):
    response = HttpClient().get(reverse("portal:statement_pdf"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
